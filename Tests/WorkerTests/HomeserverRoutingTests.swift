import Foundation
import Testing

/// deploy/haproxy/homeserver.cfg routes as deploy/README.md says: the leave handshake
/// (make_leave, send_leave v1 and v2) to the workers, everything else — the key server, other
/// federation routes, the client API — to the homeserver, and the internal routes nowhere. The
/// shipped file runs in HAProxy with loopback addresses and a throwaway certificate; a worker and
/// a homeserver are played by two HTTP servers on loopback that answer with their own name.
@Suite struct HomeserverRoutingTests {
    static let script = #"""
        set -euo pipefail
        cd "$OUT"
        port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
        worker=$(port); homeserver=$(port); tls443=$(port); tls8448=$(port)
        cat >played.py <<'PY'
        import http.server, json, sys
        name = sys.argv[1]
        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                body = json.dumps({"served_by": name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_PUT = do_POST = answer
            def log_message(self, *args): pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
        PY
        python3 played.py worker "$worker" & pids=($!)
        python3 played.py homeserver "$homeserver" & pids+=($!)
        # KILL: the played servers inherit the test process's blocked signal mask (TERM stays pending).
        trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; [ -f haproxy.pid ] && kill "$(cat haproxy.pid)" 2>/dev/null || true' EXIT

        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
            -addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem 2>/dev/null
        mkdir certs && cat cert.pem key.pem >certs/localhost.pem
        sed -e "s#/etc/haproxy/certs/#$OUT/certs/#" \
            -e "s#bind :443 #bind 127.0.0.1:$tls443 #" -e "s#bind :8448 #bind 127.0.0.1:$tls8448 #" \
            -e "s#check port 9448#check port $worker#" \
            -e "s#server worker-1 10.0.0.11:8448#server worker-1 127.0.0.1:$worker#" -e '/server worker-[23] /d' \
            -e "s#10.0.0.10:8008#127.0.0.1:$homeserver#" "$REPOSITORY/deploy/haproxy/homeserver.cfg" >haproxy.cfg
        for _ in $(seq 50); do
            curl -sf "http://127.0.0.1:$worker/ready" >/dev/null && curl -sf "http://127.0.0.1:$homeserver/" >/dev/null && break
            sleep 0.1
        done
        haproxy -q -D -f haproxy.cfg -p haproxy.pid
        # Until the worker backend's first health check passed (HAProxy answers 503 before).
        for _ in $(seq 100); do
            [ "$(curl -s --cacert cert.pem -o /dev/null -w '%{http_code}' "https://localhost:$tls443/_matrix/federation/v1/make_leave/r/u")" = 200 ] && break
            sleep 0.1
        done

        # METHOD PATH → who answered (or the status when HAProxy itself answered), on both ports.
        for p in "$tls443" "$tls8448"; do
            while read -r method path; do
                out=$(curl -s --cacert cert.pem -X "$method" -w ' %{http_code}' "https://localhost:$p$path")
                case "$out" in
                    *'"served_by": "worker"'*) echo "$p $method $path worker" ;;
                    *'"served_by": "homeserver"'*) echo "$p $method $path homeserver" ;;
                    *) echo "$p $method $path ${out##* }" ;;
                esac
            done <<'PATHS'
        GET /_matrix/federation/v1/make_leave/!r:example.org/@u:remote.example
        PUT /_matrix/federation/v1/send_leave/!r:example.org/$e
        PUT /_matrix/federation/v2/send_leave/!r:example.org/$e
        GET /_matrix/key/v2/server
        GET /_matrix/federation/v1/version
        PUT /_matrix/federation/v2/send_join/!r:example.org/$e
        GET /_matrix/federation/v1/make_join/!r:example.org/@u:remote.example
        PUT /_matrix/federation/v3/send_leave/!r:example.org/$e
        GET /_matrix/client/versions
        GET /metrics
        GET /ready
        GET /_leave_worker/v1/feed
        PATHS
        done
        """#

    @Test func leaveHandshakeToWorkersRestToHomeserver() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("routing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = ProcessInfo.processInfo.environment
        environment["OUT"] = directory.path
        environment["REPOSITORY"] = repository.path
        let result = try await ChildProcess.run("/bin/bash", ["-c", Self.script], environment: environment, directory: repository)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let expected = [
            "make_leave": "worker", "v1/send_leave": "worker", "v2/send_leave": "worker",
            "key/v2/server": "homeserver", "v1/version": "homeserver", "send_join": "homeserver",
            "make_join": "homeserver", "v3/send_leave": "homeserver", "client/versions": "homeserver",
            "/metrics": "404", "/ready": "404", "/_leave_worker/": "404",
        ]
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2 * expected.count, "\(result.stdout)")
        for line in lines {
            let fields = line.split(separator: " ")
            guard fields.count == 4 else { Issue.record("unexpected line \(line)"); continue }
            let (path, answer) = (fields[2], String(fields[3]))
            let matches = expected.filter { path.contains($0.key) }
            #expect(matches.count == 1 && matches.first?.value == answer, "\(line): expected \(matches)")
        }
    }
}
