import Hummingbird
import LeaveService
import MatrixCore

/// Adds the homeserver bridge's routes to the internal listener's router (part `app`'s listener
/// or, until it is merged, `InternalBridgeListener`): every request needs the bearer token
/// (401 `M_UNAUTHORIZED` otherwise); path parameters are decoded from the raw request target.
public func addHomeserverBridgeRoutes<Context: RequestContext>(to router: Router<Context>, bridge: HomeserverBridge) {
    router.get("/_leave_worker/v1/events") { request, _ in
        await bridge.answer(request) { () async throws(MatrixError) in
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            return try await bridge.readFeed(query: query)
        }
    }
    router.put("/_leave_worker/v1/rooms/:roomId/events") { request, _ in
        await bridge.answer(request) { () async throws(MatrixError) in
            // /_leave_worker/v1/rooms/{roomId}/events: the fifth raw segment, decoded once.
            let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: false)
            guard segments.count == 6, let roomID = Route.percentDecode(segments[4]) else {
                throw .unrecognized("Unrecognized request")
            }
            return try await bridge.pushEvents(roomID: roomID, request: request)
        }
    }
}

extension HomeserverBridge {
    /// Checks the token, then answers with `body` or its Matrix error.
    func answer(_ request: Request, _ body: () async throws(MatrixError) -> Response) async -> Response {
        guard token.admits(request.headers[values: .authorization]) else {
            return FederationResponder.errorResponse(.unauthorized("Missing or wrong bearer token"))
        }
        do {
            return try await body()
        } catch {
            return FederationResponder.errorResponse(error)
        }
    }
}
