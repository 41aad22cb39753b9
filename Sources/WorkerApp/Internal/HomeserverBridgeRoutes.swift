import Hummingbird
import LeaveService
import MatrixCore

/// Adds the homeserver bridge's routes to the internal listener's router (part `app`'s listener
/// or, until it is merged, `InternalBridgeListener`): every request needs the bearer token
/// (401 `M_UNAUTHORIZED` otherwise); path parameters are decoded from the raw request target.
public func addHomeserverBridgeRoutes<Context: RequestContext>(to router: Router<Context>, bridge: HomeserverBridge) {
    router.get("/_leave_worker/v1/events") { request, _ in
        await bridge.answer(request, within: bridge.feedDeadline) { () async throws(MatrixError) in
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            return try await bridge.readFeed(query: query)
        }
    }
    router.put("/_leave_worker/v1/rooms/:roomId/events") { request, _ in
        await bridge.answer(request, within: bridge.pushDeadline) { () async throws(MatrixError) in
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
    /// Checks the token, then answers with `body` or its Matrix error — or, past `deadline`,
    /// 503 `M_UNKNOWN` + `Retry-After` (its waits cut short, as a federation request's).
    func answer(_ request: Request, within deadline: RequestDeadline, _ body: () async throws(MatrixError) -> Response) async
        -> Response
    {
        guard token.admits(request.headers[values: .authorization]) else {
            return FederationResponder.errorResponse(.unauthorized("Missing or wrong bearer token"))
        }
        let outcome = await deadline.run { () async -> Result<Response, MatrixError> in
            do throws(MatrixError) {
                return .success(try await body())
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let response)?: return response
        case .failure(let error)?: return FederationResponder.errorResponse(error)
        case nil: return FederationResponder.errorResponse(.unavailable("The request was not answered within \(deadline.limit); retry"))
        }
    }
}
