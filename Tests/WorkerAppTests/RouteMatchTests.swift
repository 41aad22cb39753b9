import LeaveService
import Testing
@testable import WorkerApp

/// `Route.match` on raw request targets: segments split at the byte `/` and percent-decoded one by
/// one, the query ignored, and anything that is not exactly a route's shape unrecognized.
struct RouteMatchTests {
    @Test func segmentsAreDecodedOneByOneAndTheQueryIsIgnored() throws {
        let route = try Route.match(method: "PUT", target: "/_matrix/federation/v2/send_leave/%21r%3Ax/%24a%2Fb?x=/y/z")
        #expect(route == .sendLeave(apiVersion: 2, roomID: "!r:x", eventID: "$a/b"))
        #expect(try Route.match(method: "GET", target: "/health?probe") == .health)
        #expect(try Route.match(method: "HEAD", target: "/_matrix/federation/v1/version") == .version)
        #expect(try Route.match(method: "GET", target: "/_matrix/federation/v1/make_leave/!r:x/@u:x") == .makeLeave(roomID: "!r:x", userID: "@u:x"))
    }

    /// Synapse's pattern is `^/_matrix/key/v2/server(/(?P<key_id>[^/]*))?$`: older Synapses fetch
    /// `…/server/{keyId}`, and all get the same document (they were answered 404).
    @Test(arguments: ["/_matrix/key/v2/server", "/_matrix/key/v2/server/", "/_matrix/key/v2/server/ed25519:a_1",
                      "/_matrix/key/v2/server/ed25519%3Aa_1?x=1", "/_matrix/key/v2/server/unknown"])
    func theKeyDocumentIsServedWithOrWithoutAKeyID(target: String) throws {
        #expect(try Route.match(method: "GET", target: target) == .serverKeys)
    }

    @Test(arguments: [
        "", "health", "/", "//health", "/health/", "/_matrix/federation/v1/version/",
        "/_matrix/key/v2/server/a/b", "/_matrix/key/v2/server//", "/_matrix/key/v2",
        "/_matrix/federation/v2/send_leave/!r:x/$e/extra", "/_matrix/federation/v2/send_leave/!r:x/$e/a/b/c/d",
        "/_matrix/federation/v1/event/%zz", "/_matrix/federation/v1/event/%ff", "/_matrix/federation/v1/event/%2",
        // Not origin-form: what precedes the path would become the pass-through's host.
        "x/health", "*/health", "*@10.0.0.7:9200/_matrix/federation/v1/make_leave/!r:x/@u:x",
        "http://10.0.0.7/_matrix/federation/v1/event/$e", "?/health",
    ])
    func otherTargetsAreUnrecognized(target: String) {
        #expect(throws: MatrixError.unrecognized("Unrecognized request")) {
            try Route.match(method: "GET", target: target)
        }
    }
}
