import Hummingbird
import HummingbirdTesting
import MatrixCore
import NIOCore
import Testing
@testable import WorkerApp

/// Each route of the HTTP surface through the real responder: what it answers, unknown paths and
/// methods (404/405 `M_UNRECOGNIZED`), and the body limits of the PDU routes.
struct RoutingTests {
    @Test func healthVersionAndKeysAnswerWithoutStorage() async throws {
        try await ResponderFixture.withClient { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(ResponderFixture.object(response)["status"]?.stringValue == "ok")
            }
            try await client.execute(uri: "/_matrix/federation/v1/version", method: .get) { response in
                #expect(response.status == .ok)
                #expect(ResponderFixture.object(response)["server"]?.objectValue?["version"]?.stringValue == WorkerVersion.current)
            }
            // The deprecated form with a key ID (older Synapses) and a trailing `/` serve the same document.
            for path in ["/_matrix/key/v2/server", "/_matrix/key/v2/server/ed25519:rs1", "/_matrix/key/v2/server/"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(ResponderFixture.object(response)["server_name"]?.stringValue == ResponderFixture.serverName, "\(path)")
                }
            }
            try await client.execute(uri: "/health", method: .head) { response in #expect(response.status == .ok) }
        }
    }

    @Test func readyFailsWhileTheDatabaseIsUnreachable() async throws {
        try await ResponderFixture.withClient { client in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status.code == 503)
                #expect(ResponderFixture.object(response)["errcode"]?.stringValue == "M_UNKNOWN")
            }
        }
    }

    @Test func metricsCarryProcessFiguresAndTheBuild() async throws {
        try await ResponderFixture.withClient { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"leave_worker_build_info{version="\#(WorkerVersion.current)"} 1"#))
                for name in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                             "process_start_time_seconds", "leave_worker_db_pool_size"] {
                    #expect(text.contains("\n\(name) ") || text.contains("\n\(name){"), "\(name)")
                }
            }
        }
    }

    @Test func operationalRoutesLeaveWhenTheInternalListenerServesThem() async throws {
        try await ResponderFixture.withClient(configure: { $0.servesOperationalRoutes = false }) { client in
            for path in ["/metrics", "/ready"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status.code == 404, "\(path)")
                    #expect(ResponderFixture.object(response)["errcode"]?.stringValue == "M_UNRECOGNIZED")
                }
            }
            try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
        }
    }

    @Test(arguments: [
        ("GET", "/nothing", 404), ("GET", "/_matrix/federation/v3/send_leave/!r:x/$e", 404),
        ("GET", "/_matrix/federation/v1/make_leave/!r:x", 404), ("GET", "/_matrix/federation/v1/make_leave/%zz/@u:x", 404),
        ("POST", "/health", 405), ("PUT", "/_matrix/federation/v1/make_leave/!r:x/@u:x", 405),
        ("GET", "/_matrix/federation/v2/send_leave/!r:x/$e", 405), ("DELETE", "/metrics", 405), ("OPTIONS", "/health", 405),
    ])
    func unknownPathsAndMethodsAreUnrecognized(method: String, path: String, status: Int) async throws {
        try await ResponderFixture.withClient(mode: .live) { client in
            try await client.execute(uri: path, method: HTTPRequest.Method(method)!) { response in
                #expect(response.status.code == status)
                #expect(ResponderFixture.object(response)["errcode"]?.stringValue == "M_UNRECOGNIZED")
                // A 405 names the methods the path takes (RFC 9110 §15.5.6; it had none: found by review).
                let allowed = path.contains("send_leave") ? "PUT" : "GET, HEAD"
                #expect(response.headers[.allow] == (status == 405 ? allowed : nil), "\(method) \(path)")
            }
        }
    }

    @Test func bodiesOverTheLimitOrNotAnObjectAreRefusedBeforeAuthentication() async throws {
        let path = "/_matrix/federation/v2/send_leave/!r:x/$e"
        try await ResponderFixture.withClient { client in
            let big = ByteBuffer(repeating: UInt8(ascii: " "), count: FederationResponder.maxBodyBytes + 1)
            try await client.execute(uri: path, method: .put, body: big) { response in
                #expect(response.status.code == 413)
                #expect(ResponderFixture.object(response)["errcode"]?.stringValue == "M_TOO_LARGE")
            }
            for (body, errcode) in [("[1]", "M_NOT_JSON"), ("{\"a\":", "M_NOT_JSON"), (#"{"a":1,"a":2}"#, "M_BAD_JSON")] {
                try await client.execute(uri: path, method: .put, body: ByteBuffer(string: body)) { response in
                    #expect(response.status.code == 400, "\(body)")
                    #expect(ResponderFixture.object(response)["errcode"]?.stringValue == errcode, "\(body)")
                }
            }
            // At the limit: read and parsed, then refused only by authentication (none given).
            let exact = "{\"a\":\"" + String(repeating: "x", count: FederationResponder.maxBodyBytes - 8) + "\"}"
            try await client.execute(uri: path, method: .put, body: ByteBuffer(string: exact)) { response in
                #expect(response.status.code == 401)
            }
        }
    }
}
