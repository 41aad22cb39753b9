import Hummingbird
import HummingbirdTesting
import LeaveService
import Testing
@testable import WorkerApp

/// Every kind of error the responder can answer, raised where a federation request is handled (at
/// authentication) and checked as the remote server sees it through the router: status, `errcode`,
/// a Matrix body, `retry_after_ms` and `Retry-After` where they belong, and never the log detail.
struct ErrorMappingTests {
    struct Case: Sendable, CustomStringConvertible {
        let error: MatrixError
        let status: Int
        let errcode: String
        /// The `Retry-After` header in whole seconds, when the error carries a wait.
        let retryAfter: String?
        var description: String { "\(status) \(errcode)" }
    }

    static let cases: [Case] = [
        Case(error: .unrecognized("x"), status: 404, errcode: "M_UNRECOGNIZED", retryAfter: nil),
        Case(error: .methodNotAllowed("x", allowed: "PUT"), status: 405, errcode: "M_UNRECOGNIZED", retryAfter: nil),
        Case(error: .tooLarge("x"), status: 413, errcode: "M_TOO_LARGE", retryAfter: nil),
        Case(error: .notJSON("x"), status: 400, errcode: "M_NOT_JSON", retryAfter: nil),
        Case(error: .badJSON("x"), status: 400, errcode: "M_BAD_JSON", retryAfter: nil),
        Case(error: .unauthorized("x"), status: 401, errcode: "M_UNAUTHORIZED", retryAfter: nil),
        Case(error: .forbidden("x"), status: 403, errcode: "M_FORBIDDEN", retryAfter: nil),
        Case(error: .notFound("x"), status: 404, errcode: "M_NOT_FOUND", retryAfter: nil),
        Case(error: .limitExceeded(retryAfterMilliseconds: 1500), status: 429, errcode: "M_LIMIT_EXCEEDED", retryAfter: "2"),
        Case(error: .unavailable("x"), status: 503, errcode: "M_UNKNOWN", retryAfter: "1"),
        Case(error: .unavailable("x", retryAfterMilliseconds: 1), status: 503, errcode: "M_UNKNOWN", retryAfter: "1"),
    ]

    @Test(arguments: cases)
    func eachErrorKindIsAnsweredAsTheContractSays(_ expected: Case) async throws {
        let raised = expected.error.withLogDetail("connection to 10.1.2.3:5432 refused (libpq)")
        try await ResponderFixture.withClient(configure: { dependencies in
            dependencies.authenticate = { _, _, _, _ throws(MatrixError) in throw raised }
        }) { client in
            for (method, path) in [(HTTPRequest.Method.get, "/_matrix/federation/v1/make_leave/!r:x/@u:x"),
                                   (.put, "/_matrix/federation/v1/send_leave/!r:x/$e"),
                                   (.get, "/_matrix/federation/v1/event/$e")] {
                try await client.execute(uri: path, method: method, body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status.code == expected.status, "\(path)")
                    let body = ResponderFixture.object(response)
                    #expect(body["errcode"]?.stringValue == expected.errcode)
                    #expect(body["error"]?.stringValue == "x" || expected.status == 429)
                    #expect(response.headers[.contentType] == "application/json")
                    #expect(response.headers[.retryAfter] == expected.retryAfter)
                    #expect(body["retry_after_ms"]?.integerValue == expected.error.retryAfterMilliseconds.map(Int64.init))
                    #expect(!String(buffer: response.body).contains("10.1.2.3"))
                }
            }
        }
    }

    /// Past its burst, an authenticated origin is answered 429 with the wait, and another origin is not.
    @Test func rateLimitAnswers429WithTheWait() async throws {
        try await ResponderFixture.withClient(settings: [.rateLimitPerSecond: "1", .rateLimitBurst: "1"], configure: { dependencies in
            dependencies.authenticate = { _, _, _, _ throws(MatrixError) in "remote.test" }
        }) { client in
            // A PDU route whose empty body is refused after admission, before storage.
            let path = "/_matrix/federation/v2/send_leave/!r:x/$e"
            try await client.execute(uri: path, method: .put, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status.code != 429)
            }
            try await client.execute(uri: path, method: .put, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status.code == 429)
                let body = ResponderFixture.object(response)
                #expect(body["errcode"]?.stringValue == "M_LIMIT_EXCEEDED")
                let wait = try #require(body["retry_after_ms"]?.integerValue)
                #expect(wait >= 1 && wait <= 1000)
                #expect(response.headers[.retryAfter] == "1")
            }
        }
    }

    @Test func aRequestPastItsDeadlineIsAnswered503() async throws {
        try await ResponderFixture.withClient(settings: [.requestDeadlineMilliseconds: "50"], configure: { dependencies in
            dependencies.authenticate = { _, _, _, _ throws(MatrixError) in
                try? await Task.sleep(for: .seconds(30))
                return "remote.test"
            }
        }) { client in
            try await client.execute(uri: "/_matrix/federation/v1/event/$e", method: .get) { response in
                #expect(response.status.code == 503)
                #expect(ResponderFixture.object(response)["errcode"]?.stringValue == "M_UNKNOWN")
                #expect(response.headers[.retryAfter] == "1")
            }
        }
    }
}
