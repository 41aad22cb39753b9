import Foundation
import TestSupport
import Testing

/// `deploy/local/cluster.sh up --tls`: HAProxy terminates TLS with a throwaway certificate, and a
/// remote server's whole leave (make_leave → send_leave v2, `leave-worker demo leave`) goes through
/// it. The demo's HTTP client speaks plain HTTP, so a second HAProxy is its TLS client: it
/// verifies the cluster's certificate against the CA file (`verify required ca-file … verifyhost`)
/// as a remote homeserver would. The leave is then stored; plain HTTP and an unverified TLS
/// client are refused; /ready and /metrics are not public.
@Suite(.serialized)
struct ClusterTLSTests {
    static let script = #"""
        set -euo pipefail
        state=$LEAVE_WORKER_CLUSTER_DIR
        stop() {
            [ -f "$state/tls-client.pid" ] && kill "$(cat "$state/tls-client.pid")" 2>/dev/null || true
            [ -n "${remote_pid:-}" ] && kill "$remote_pid" 2>/dev/null || true
            deploy/local/cluster.sh down --purge >&2 || true
        }
        trap stop EXIT
        deploy/local/cluster.sh up --workers 2 --port 0 --tls --remotes 1 --bin "$WORKER_BIN" >&2
        . "$state/env"
        bin=$LEAVE_WORKER_CLUSTER_BIN
        port=${LEAVE_WORKER_CLUSTER_TARGET##*:}
        fail() { echo "$*" >&2; exit 1; }
        code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }

        [[ "$LEAVE_WORKER_CLUSTER_TARGET" == https://localhost:* ]] || fail "the target is not https: $LEAVE_WORKER_CLUSTER_TARGET"
        [ "$(code --cacert "$LEAVE_WORKER_CLUSTER_CA" "$LEAVE_WORKER_CLUSTER_TARGET/health")" = 200 ] || fail "no /health over verified TLS"
        [ "$(code "$LEAVE_WORKER_CLUSTER_TARGET/health")" = 000 ] || fail "a client without the CA file was not refused"
        [ "$(code "http://127.0.0.1:$port/health")" != 200 ] || fail "the TLS port answers plain HTTP"
        for internal in /ready /metrics; do
            [ "$(code --cacert "$LEAVE_WORKER_CLUSTER_CA" "$LEAVE_WORKER_CLUSTER_TARGET$internal")" = 404 ] || fail "HAProxy serves $internal"
        done

        # The remote server the workers know (remote-1.localhost): its keys, a room with its users.
        remote=remote-1.localhost
        remote_port=$(echo "$LEAVE_WORKER_FEDERATION_OVERRIDES" | sed -E 's#.*:([0-9]+)$#\1#')
        "$bin" demo serve-remote --remote-name "$remote" --state-dir "$state/demo" --port "$remote_port" >"$state/remote.log" 2>&1 &
        remote_pid=$!
        "$bin" demo room --remote-name "$remote" --state-dir "$state/demo" >"$state/room.json"
        room=$("$bin" rooms import "$state/room.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["room_id"])')
        for _ in $(seq 100); do [ "$(code "http://127.0.0.1:$remote_port/_matrix/key/v2/server")" = 200 ] && break; sleep 0.1; done

        # The remote's TLS client: plain HTTP in on a loopback port, TLS out to the cluster,
        # the certificate verified with the CA file and the name localhost.
        client_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        cat >"$state/tls-client.cfg" <<CFG
        global
            maxconn 64
        defaults
            mode tcp
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        listen tls-client
            bind 127.0.0.1:$client_port
            server cluster localhost:$port ssl verify required ca-file $LEAVE_WORKER_CLUSTER_CA verifyhost localhost sni str(localhost)
        CFG
        haproxy -q -D -f "$state/tls-client.cfg" -p "$state/tls-client.pid"

        "$bin" demo leave --remote-name "$remote" --state-dir "$state/demo" --target "http://127.0.0.1:$client_port" \
            "$room" "@user1:$remote" >&2 || fail "the leave through TLS failed"
        "$bin" rooms members "$room"
        """#

    @Test func leaveThroughTLSTerminatingHAProxy() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-tls-\(UUID().uuidString)")
        var environment = ProcessInfo.processInfo.environment
        environment["LEAVE_WORKER_CLUSTER_DIR"] = state.path
        environment["WORKER_BIN"] = WorkerProcess.executable.path
        let result = try await ChildProcess.run("/bin/bash", ["-c", Self.script], environment: environment,
                                                directory: repository)
        #expect(result.status == 0, "TLS cluster run failed: \(result.stderr.suffix(3000))")
        // `rooms members` after the leave: user1's membership is the stored leave.
        #expect(result.stdout.contains(#""membership":"leave","user_id":"@user1:remote-1.localhost""#), "\(result.stdout)")
    }
}
