#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, Fuzz/corpus/<target>/, from the vectors in
Tests/Vectors (plus a few hand-written IP literals). Files are named by the SHA-1 of their
content, as libFuzzer names what it adds. Rerunning is idempotent.

The pdu target's inputs are a selector byte (room version 1 + byte % 12) then the JSON of a PDU.
"""
import hashlib
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
vectors = root / "Tests" / "Vectors"
corpus = root / "Fuzz" / "corpus"


def load(name):
    return json.loads((vectors / f"{name}.json").read_text(encoding="utf-8"))


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def write(target, seeds):
    directory = corpus / target
    directory.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    print(f"{target}: {len(set(seeds))} seeds")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)


canonical = load("canonical-json")
events = load("events")
leaves = load("leave-cases")
xmatrix = load("x-matrix")
acl = load("acl")

json_texts = [case["input"].encode() for group in ("cases", "must_reject", "unparseable") for case in canonical[group]]
json_texts += [request["signed_json_canonical"].encode() for request in xmatrix["requests"]]
json_texts += [compact(room["events"][-1]["pdu"]) for room in events["versions"].values()]
write("json", json_texts)
write("canonical", json_texts)

headers = [case["header"] for case in xmatrix["header_parsing"]]
headers += [request["authorization"] for request in xmatrix["requests"]]
write("xmatrix", [header.encode() for header in headers] + ["\n".join(headers[:3]).encode()])

identifiers = {text for text in strings([events, leaves, acl]) if 0 < len(text) <= 255 and text[0] in "@!$"}
identifiers |= {server for server in strings(acl) if "." in server and " " not in server and len(server) <= 255}
identifiers |= {"resident.test", "remote.test:8448", "127.0.0.1", "10.0.0.1:8448", "[::1]", "[::1]:8448",
                "[2001:db8::ff00:42:8329]", "[::ffff:192.0.2.1]:443", "::1", "fe80::1", "169.254.169.254",
                "1.2.3.4:65535", "[1:2:3:4:5:6:7:8]"}
write("identifiers", sorted(text.encode() for text in identifiers))

pdus = []
for version, room in leaves["versions"].items():
    selector = bytes([int(version) - 1])
    pdus += [selector + compact(case["body"]) for case in room["cases"] if isinstance(case.get("body"), dict)]
for version, room in events["versions"].items():
    selector = bytes([int(version) - 1])
    pdus += [selector + compact(event.get("stored_pdu") or event["pdu"]) for event in room["events"][-3:]]
write("pdu", pdus)
