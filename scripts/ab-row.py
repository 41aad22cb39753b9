#!/usr/bin/env python3
"""One table row of scripts/ab.sh from a `leave-worker loadgen --json` report.

    scripts/ab-row.py --header
    scripts/ab-row.py REPORT.json RUN BUILD [PGBENCH_TPS]

Columns: run, build, accepted per second (leaves, pairs or templates, by mode), p50/p99 in ms of the
mode's own latency (pair, send_leave or make_leave), CPU milliseconds per accepted item of the
leave-worker processes, Postgres and the generator (machine CPU split x elapsed / accepted),
seconds until the forwarding backlog drained after the last answer ("-" not waited for, ">" not
drained), the same CPU of the worker and Postgres over the run and the drain together (what a
stored and forwarded leave cost; "-" without a drain), the forwarding check ("ok": every accepted
leave reached each played server due it exactly once, X-Matrix signed by the resident; else
missing/duplicated/unexpected/unauthenticated; "-" not verified), failed requests, lost leaves, the
pgbench ceiling (tps) when measured, and the box's speed when the run started (µs per Ed25519
verification on one core: runs of different sessions compare through it).
"""
import json
import sys

COLUMNS = ["run", "build", "per_s", "p50_ms", "p99_ms", "worker_ms", "pg_ms", "gen_ms", "drain_s",
           "w+d_ms", "pg+d_ms", "fwd", "failed", "lost", "pgbench_tps", "verify_us"]
WIDTHS = [4, 6, 9, 8, 8, 10, 7, 7, 8, 7, 7, 9, 7, 5, 11, 9]


def line(values):
    return "  ".join(str(value).rjust(width) for value, width in zip(values, WIDTHS))


def ms_per_item(report, group, split="machine_cpu", elapsed="elapsed_s"):
    cores = (report.get(split) or {}).get(group)
    accepted = report.get("accepted") or 0
    if cores is None or accepted == 0 or report.get(elapsed) is None:
        return "-"
    return "%.3f" % (float(cores) * float(report[elapsed]) * 1000 / accepted)


def forwarding_check(forwarding):
    counts = [forwarding.get(name) for name in ("missing", "duplicated", "unexpected", "unauthenticated")]
    if forwarding.get("expected") is None:
        return "-"
    if all(count == 0 for count in counts):
        return "ok"
    return "/".join("?" if count is None else str(count) for count in counts)


def row(report, run, build, pgbench=None):
    latency = report.get("latency") or {}
    measured = next((latency[name] for name in ("pair", "send_leave", "make_leave") if name in latency), {})
    forwarding = report.get("forwarding") or {}
    if not forwarding:
        drain = "-"
    elif forwarding.get("drain_seconds") is None:
        drain = ">"
    else:
        drain = "%.2f" % float(forwarding["drain_seconds"])
    lost = report.get("lost")
    verify = (report.get("box") or {}).get("ed25519_verify_us")
    return line([run, build, "%.1f" % float(report["throughput_per_s"]),
                 "%.2f" % float(measured.get("p50_ms", 0)), "%.2f" % float(measured.get("p99_ms", 0)),
                 ms_per_item(report, "leave-worker"), ms_per_item(report, "postgres"),
                 ms_per_item(report, "generator"), drain,
                 ms_per_item(report, "leave-worker", "machine_cpu_with_drain", "elapsed_with_drain_s"),
                 ms_per_item(report, "postgres", "machine_cpu_with_drain", "elapsed_with_drain_s"),
                 forwarding_check(forwarding), report.get("failed_requests", 0),
                 "-" if lost is None else lost, pgbench or "-", "-" if verify is None else "%.1f" % float(verify)])


def main(args):
    if args == ["--header"]:
        print(line(COLUMNS))
        return 0
    if len(args) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as file:
        report = json.load(file)
    print(row(report, args[1], args[2], args[3] if len(args) == 4 else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
