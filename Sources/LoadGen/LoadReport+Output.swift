import Foundation
import MatrixCore

extension LoadReport {
    /// The report for people: one block of aligned lines.
    public var text: String {
        var lines: [String] = []
        let unit = switch mode {
        case .pairs: "pairs"
        case .sendOnly: "leaves"
        case .makeOnly: "templates"
        }
        lines.append("target: \(target)  mode: \(mode.rawValue)  concurrency: \(concurrency)  stopped by: \(stopReason.rawValue)")
        lines.append("elapsed: \(Self.format(elapsedSeconds, 2)) s  attempted: \(attempted)  accepted: \(accepted)  "
            + "failed requests: \(failureCount)")
        lines.append("throughput: \(Self.format(throughput, 1)) accepted \(unit)/s")
        lines.append("latency (ms)      count      p50      p90      p99    p99.9      max")
        for latency in latencies {
            let cells = [latency.p50, latency.p90, latency.p99, latency.p999, latency.max]
                .map { Self.pad(Self.format($0, 2), 9) }.joined()
            lines.append(Self.padRight(latency.endpoint.rawValue, 12) + Self.pad(String(latency.count), 11) + cells)
        }
        if failures.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors:")
            for failure in failures { lines.append("  \(Self.pad(String(failure.count), 8))  \(failure.kind)") }
        }
        lines.append("generator CPU: \(Self.format(generatorCores, 2)) cores (user \(Self.format(generatorCPU.user, 2)) s, "
            + "system \(Self.format(generatorCPU.system, 2)) s)")
        if let cpuSplit {
            lines.append("machine CPU (cores of \(cpuSplit.machineCores)): \(Self.text(cpuSplit))")
        }
        if let cpuSplitWithDrain, let elapsedWithDrainSeconds {
            lines.append("machine CPU with the drain (\(Self.format(elapsedWithDrainSeconds, 2)) s, "
                + "cores of \(cpuSplitWithDrain.machineCores)): \(Self.text(cpuSplitWithDrain))")
        }
        if let ed25519VerifyMicroseconds {
            lines.append("box speed: Ed25519 verify \(Self.format(ed25519VerifyMicroseconds, 1)) µs (one core, before the run)")
        }
        lines.append("forwarded transactions received: \(forwardedTransactions)")
        lines.append("lost: \(lost.map(String.init) ?? "not checked")")
        if let forwarding {
            lines.append("forwarding backlog: " + (forwarding.drainSeconds.map { "drained \(Self.format($0, 2)) s after the run" }
                                                   ?? "\(forwarding.backlogLeft) deliveries still due"))
            if let expected = forwarding.expected {
                lines.append("forwarding check: \(expected) deliveries due, missing \(forwarding.missing ?? 0), "
                    + "duplicated \(forwarding.duplicated ?? 0), unexpected \(forwarding.unexpected ?? 0), "
                    + "unauthenticated \(forwarding.unauthenticated ?? 0)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The report for scripts.
    public var json: JSONObject {
        var latencyObject = JSONObject()
        for latency in latencies {
            latencyObject[latency.endpoint.rawValue] = [
                "count": .integer(Int64(clamping: latency.count)),
                "p50_ms": Self.number(latency.p50), "p90_ms": Self.number(latency.p90),
                "p99_ms": Self.number(latency.p99), "p99_9_ms": Self.number(latency.p999),
                "max_ms": Self.number(latency.max),
            ]
        }
        let errors: [JSONValue] = failures.map { failure in
            [
                "endpoint": .string(failure.kind.endpoint.rawValue),
                "status": failure.kind.status.map { .integer(Int64($0)) } ?? .null,
                "detail": .string(failure.kind.detail), "count": .integer(Int64(failure.count)),
            ]
        }
        return [
            "target": .string(target), "mode": .string(mode.rawValue), "concurrency": .integer(Int64(concurrency)),
            "stop_reason": .string(stopReason.rawValue), "elapsed_s": Self.number(elapsedSeconds),
            "attempted": .integer(Int64(attempted)), "accepted": .integer(Int64(accepted)),
            "throughput_per_s": Self.number(throughput), "latency": .object(latencyObject),
            "errors": .array(errors), "failed_requests": .integer(Int64(failureCount)),
            "server_errors": .integer(Int64(serverErrorCount)),
            "generator_cpu": [
                "user_s": Self.number(generatorCPU.user), "system_s": Self.number(generatorCPU.system),
                "cores": Self.number(generatorCores),
            ],
            "machine_cpu": cpuSplit.map(Self.json) ?? .null,
            "machine_cpu_with_drain": cpuSplitWithDrain.map(Self.json) ?? .null,
            "elapsed_with_drain_s": elapsedWithDrainSeconds.map(Self.number) ?? .null,
            "box": ed25519VerifyMicroseconds.map { ["ed25519_verify_us": Self.number($0)] } ?? .null,
            "forwarded_transactions": .integer(Int64(forwardedTransactions)),
            "lost": lost.map { .integer(Int64($0)) } ?? .null,
            "forwarding": forwarding.map { forwarding in
                let counts: [(String, Int?)] = [("backlog_left", forwarding.backlogLeft), ("expected", forwarding.expected),
                                                ("missing", forwarding.missing), ("duplicated", forwarding.duplicated),
                                                ("unexpected", forwarding.unexpected),
                                                ("unauthenticated", forwarding.unauthenticated)]
                var object = JSONObject(counts.map { ($0.0, $0.1.map { .integer(Int64($0)) } ?? .null) })
                object["drain_seconds"] = forwarding.drainSeconds.map(Self.number) ?? .null
                return .object(object)
            } ?? .null,
        ]
    }

    /// A CPU split's shares and idle cores, for people.
    private static func text(_ split: CPUSplit) -> String {
        (split.shares.map { "\($0.group) \(format($0.cores, 2))" } + ["idle \(format(split.idleCores, 2))"])
            .joined(separator: "  ")
    }

    /// A CPU split's shares and idle cores, in cores by group name and `idle`.
    private static func json(_ split: CPUSplit) -> JSONValue {
        var cores = JSONObject()
        for share in split.shares { cores[share.group] = number(share.cores) }
        cores["idle"] = number(split.idleCores)
        return .object(cores)
    }

    /// A fraction as JSON: written with 3 decimals (a non-canonical number is fine in a report).
    private static func number(_ value: Double) -> JSONValue {
        .nonCanonicalNumber(format(value, 3))
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value.isFinite ? value : 0)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private static func padRight(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
