import Foundation
import Testing

/// The Kubernetes overlays render with `kubectl kustomize` (the base is never applied alone), and
/// what they render holds together: probes and metrics on the internal port, migrations before the
/// worker starts, the grace period covering the drain plus a request's deadline, PgBouncer only in
/// production, no ServiceMonitor where there is no Prometheus Operator (dev). The HAProxy configs
/// are valid; the alert rules pass `promtool check rules` and their unit tests
/// (deploy/prometheus/alerts.test.yaml).
@Suite struct DeployManifestTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Whether `command` runs and exits 0 (how the tests below decide to skip, with the reason shown).
    static func runs(_ command: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command + " >/dev/null 2>&1"]
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static let hasKustomize = runs("kubectl kustomize --help")
    static let hasPromtool = runs("promtool --version") && runs("python3 -c 'import yaml'")

    func render(_ overlay: String) async throws -> String {
        let result = try await ChildProcess.run("/bin/sh", ["-c", "kubectl kustomize deploy/kubernetes/overlays/\(overlay)"],
                                                environment: ProcessInfo.processInfo.environment,
                                                directory: Self.repository)
        #expect(result.status == 0, "kubectl kustomize \(overlay): \(result.stderr)")
        return result.stdout
    }

    /// The integer after `key: ` (quotes allowed), for each occurrence in the rendered YAML.
    func integers(after key: String, in yaml: String) -> [Int] {
        yaml.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(key + ": ") else { return nil }
            return Int(trimmed.dropFirst(key.count + 2).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        }
    }

    @Test(.enabled(if: DeployManifestTests.hasKustomize, "kubectl with kustomize is not installed: the overlays were not rendered"),
          arguments: ["dev", "production"])
    func overlayRenders(overlay: String) async throws {
        let yaml = try await render(overlay)
        for kind in ["Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "NetworkPolicy",
                     "PodDisruptionBudget", "Ingress"] {
            #expect(yaml.contains("kind: \(kind)\n"), "\(overlay) renders no \(kind)")
        }
        // Probes and scraping on the internal port; migrations in an init container.
        #expect(yaml.contains("LEAVE_WORKER_INTERNAL_LISTEN: 0.0.0.0:9448"))
        #expect(!yaml.contains("port: federation\n          periodSeconds"), "a probe uses the federation port")
        #expect(yaml.contains("initContainers:") && yaml.contains("- migrate\n"))
        #expect(!yaml.contains("kind: Job\n"), "a migrate Job would need deleting on every upgrade")
        // The grace period covers the drain plus a request's whole deadline (30 s by default).
        let grace = integers(after: "terminationGracePeriodSeconds", in: yaml)
        let drain = integers(after: "LEAVE_WORKER_SHUTDOWN_DRAIN_MS", in: yaml)
        #expect(grace.count == 1 && drain.count == 1)
        if let grace = grace.first, let drain = drain.first {
            #expect(grace * 1000 >= drain + 30_000, "terminationGracePeriodSeconds \(grace) < drain \(drain) ms + 30 s")
        }
        if overlay == "production" {
            #expect(yaml.contains("kind: ServiceMonitor\n"))
            #expect(yaml.contains("pool_mode = transaction"))
            #expect(yaml.contains("name: leave-worker-pgbouncer\n"))
            #expect(integers(after: "minReplicas", in: yaml) == [3])
        } else {
            #expect(!yaml.contains("kind: ServiceMonitor\n"), "dev must not need the Prometheus Operator")
            #expect(!yaml.contains("pgbouncer"))
        }
    }

    /// The HAProxy configs as shipped — compose's (TLS bind, checks on the internal port,
    /// DNS-found workers) and the homeserver example — are valid, with a throwaway certificate in
    /// place of /etc/haproxy/certs/.
    @Test func haproxyConfigsAreValid() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = """
            set -eu
            mkdir "$OUT/certs"
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \\
                -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
            cat "$OUT/cert.pem" "$OUT/key.pem" > "$OUT/certs/localhost.pem"
            grep -q 'bind :8448 ssl crt /etc/haproxy/certs/' deploy/haproxy/haproxy.cfg
            grep -q 'check port 9448' deploy/haproxy/haproxy.cfg
            PATH=$PATH:/usr/sbin:/sbin   # haproxy's place on Debian, not in a user's PATH
            for config in haproxy homeserver; do
                sed "s#/etc/haproxy/certs/#$OUT/certs/#" "deploy/haproxy/$config.cfg" > "$OUT/$config.cfg"
                haproxy -c -f "$OUT/$config.cfg"
            done
            """
        var environment = ProcessInfo.processInfo.environment
        environment["OUT"] = directory.path
        let result = try await ChildProcess.run("/bin/sh", ["-c", script], environment: environment, directory: Self.repository)
        #expect(result.status == 0, "haproxy -c: \(result.stdout) \(result.stderr)")
    }

    @Test(.enabled(if: DeployManifestTests.hasPromtool, "promtool (Debian package prometheus) or python3's yaml is missing: the alerts were not checked"))
    func alertRulesPassPromtool() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = """
            set -eu
            python3 -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))' \
                deploy/prometheus/alerts.yaml "$OUT/alerts.rules.yaml"
            cp deploy/prometheus/alerts.test.yaml "$OUT/"
            promtool check rules "$OUT/alerts.rules.yaml"
            promtool test rules "$OUT/alerts.test.yaml"
            """
        var environment = ProcessInfo.processInfo.environment
        environment["OUT"] = directory.path
        let result = try await ChildProcess.run("/bin/sh", ["-c", script], environment: environment, directory: Self.repository)
        #expect(result.status == 0, "promtool: \(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("SUCCESS: 9 rules found"), "\(result.stdout)")
    }
}
