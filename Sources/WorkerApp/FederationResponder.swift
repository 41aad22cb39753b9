import Hummingbird
import LeaveService
import Logging
import MatrixCore
import NIOCore
import NIOHTTP1

/// What the responder needs from the rest of the worker, as plain values and closures so that
/// each piece (authentication, the leave service, health) stays in its own module.
public struct ResponderDependencies: Sendable {
    /// Checks X-Matrix on a federation request and returns the authenticated origin.
    public typealias Authenticate = @Sendable (
        _ method: String, _ target: String, _ authorization: [String], _ body: JSONValue?
    ) async throws(MatrixError) -> String

    public var serverName: String
    public var serverKeys: ServerKeyPublisher
    public var authenticate: Authenticate
    /// Per-origin request budget, applied once the origin is authenticated.
    var rateLimiter: OriginRateLimiter
    public var leaves: LeaveService
    public var isReady: @Sendable () async -> Bool
    public var metricsText: @Sendable () -> [UInt8]
    public var logger: Logger
    /// Past this, a request is answered 503 and its work cancelled.
    public var requestDeadline: Duration
    /// Whether `/metrics` and `/ready` are served here (false when the internal listener serves them).
    public var servesOperationalRoutes = true
    /// Where make_leave/send_leave for rooms not held go (nil: 404 as before).
    public var passthrough: Passthrough? = nil

    init(
        serverName: String, serverKeys: ServerKeyPublisher, authenticate: @escaping Authenticate,
        rateLimiter: OriginRateLimiter, leaves: LeaveService,
        isReady: @escaping @Sendable () async -> Bool, metricsText: @escaping @Sendable () -> [UInt8], logger: Logger,
        requestDeadline: Duration
    ) {
        self.serverName = serverName
        self.serverKeys = serverKeys
        self.authenticate = authenticate
        self.rateLimiter = rateLimiter
        self.leaves = leaves
        self.isReady = isReady
        self.metricsText = metricsText
        self.logger = logger
        self.requestDeadline = requestDeadline
    }
}

/// The worker's one HTTP responder: routes on the raw request target, reads bodies within the
/// limit, authenticates federation requests, calls the leave service and answers every failure
/// with a Matrix error body. Nothing a remote server sends can produce a 500: only a bug can.
public struct FederationResponder: HTTPResponder {
    public typealias Context = BasicRequestContext

    /// The largest body accepted on the PDU routes (INTERFACE: 65536 bytes → 413 `M_TOO_LARGE`).
    public static let maxBodyBytes = 65_536

    let dependencies: ResponderDependencies
    let requestIDs = RequestIDGenerator()
    private let deadline: RequestDeadline

    public init(dependencies: ResponderDependencies) {
        self.dependencies = dependencies
        deadline = RequestDeadline(limit: dependencies.requestDeadline)
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        var logger = dependencies.logger
        logger[metadataKey: "request_id"] = .string(requestIDs.next())
        let method = request.method.rawValue
        let target = request.head.path ?? "/"
        var routeName = "unknown"
        let response: Response
        var failure: MatrixError?
        var origin: String?
        do throws(MatrixError) {
            let route = try Route.match(method: method, target: target)
            guard dependencies.servesOperationalRoutes || !route.isOperational else { throw .unrecognized("Unrecognized request") }
            routeName = route.name
            let requestLogger = logger
            let work = { @Sendable () async -> (outcome: Result<Response, MatrixError>, origin: String?) in
                var origin: String?
                do throws(MatrixError) {
                    let response = try await answer(route, request: request, method: method, target: target, logger: requestLogger, origin: &origin)
                    return (.success(response), origin)
                } catch {
                    return (.failure(error), origin)
                }
            }
            guard let answered = await deadline.run(work) else {
                throw .unavailable("The request was not answered within \(dependencies.requestDeadline); retry")
            }
            origin = answered.origin
            response = try answered.outcome.get()
        } catch {
            response = Self.errorResponse(error)
            failure = error
        }
        let elapsed = ContinuousClock.now - started
        RequestMetrics.record(route: routeName, status: response.status.code)
        RequestMetrics.recordDuration(route: routeName, nanoseconds: elapsed.saturatingNanoseconds)
        AccessLog.record(logger: logger, method: method, route: routeName, status: response.status.code,
                         failure: failure, origin: origin, authorization: request.headers[values: .authorization], elapsed: elapsed)
        return response
    }

    /// The route's answer; `origin` is set once the request's X-Matrix origin is authenticated.
    private func answer(
        _ route: Route, request: Request, method: String, target: String, logger: Logger, origin: inout String?
    ) async throws(MatrixError) -> Response {
        switch route {
        case .health:
            return Self.json(200, Array(#"{"status":"ok"}"#.utf8))
        case .ready:
            return await dependencies.isReady()
                ? Self.json(200, Array(#"{"status":"ready"}"#.utf8))
                : Self.errorResponse(.unavailable("Database not reachable"))
        case .metrics:
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: dependencies.metricsText())))
        case .serverKeys:
            return Self.json(200, dependencies.serverKeys.currentDocument())
        case .version:
            return Self.json(200, Array(#"{"server":{"name":"leave-worker","version":"\#(WorkerVersion.current)"}}"#.utf8))
        case .makeLeave(let roomID, let userID):
            // Authenticated (and rate limited) first, passed through or not: an unsigned request
            // costs neither a database read nor the homeserver's attention.
            let origin = try await authenticated(method, target, request, body: nil, into: &origin)
            if let passthrough = dependencies.passthrough, try await passthrough.passes(roomID: roomID) {
                return await passthrough.forward(method: method, target: target, request: request, body: nil)
            }
            let body = try await answering { () async throws(LeaveServiceError) in
                try await dependencies.leaves.makeLeave(roomID: roomID, userID: userID, origin: origin)
            }
            return Self.json(200, body.compactBytes())
        case .sendLeave(let apiVersion, let roomID, let eventID):
            let raw = try await Self.readBody(request, upTo: Self.maxBodyBytes)
            let body = try Self.jsonObject(raw)
            let origin = try await authenticated(method, target, request, body: .object(body), into: &origin)
            if let passthrough = dependencies.passthrough, try await passthrough.passes(roomID: roomID) {
                return await passthrough.forward(method: method, target: target, request: request, body: raw)
            }
            try await answering { () async throws(LeaveServiceError) in
                try await dependencies.leaves.sendLeave(roomID: roomID, eventID: eventID, origin: origin, pdu: body)
            }
            return Self.json(200, Array((apiVersion == 1 ? "[200,{}]" : "{}").utf8))
        case .event(let eventID):
            let origin = try await authenticated(method, target, request, body: nil, into: &origin)
            let body = try await answering { () async throws(LeaveServiceError) in
                try await dependencies.leaves.event(eventID: eventID, origin: origin)
            }
            return Self.json(200, body)
        }
    }

    /// The request's authenticated origin (also stored in `authenticatedOrigin` for the access
    /// log), within its rate limit.
    private func authenticated(
        _ method: String, _ target: String, _ request: Request, body: JSONValue?, into authenticatedOrigin: inout String?
    ) async throws(MatrixError) -> String {
        let origin = try await dependencies.authenticate(method, target, request.headers[values: .authorization], body)
        authenticatedOrigin = origin
        try dependencies.rateLimiter.admit(origin)
        return origin
    }

    /// The body (read within the limit: 413 over it) parsed: 400 `M_NOT_JSON` for anything that
    /// is not a JSON object, 400 `M_BAD_JSON` for duplicate keys.
    private static func jsonObject(_ buffer: ByteBuffer) throws(MatrixError) -> JSONObject {
        let value: JSONValue
        do {
            value = try buffer.readableBytesView.withContiguousStorageIfAvailable { try JSONParser.parse($0) }
                ?? JSONParser.parse(Array(buffer.readableBytesView))
        } catch let error as JSONParseError {
            if case .duplicateKey(let key) = error { throw .badJSON("Duplicate key '\(key)' in the JSON body") }
            throw .notJSON("Body is not valid JSON: \(error)")
        } catch {
            throw .notJSON("Body is not valid JSON")
        }
        guard case .object(let object) = value else { throw .notJSON("Body is not a JSON object") }
        return object
    }

    /// Reads the body within the limit (413 over it).
    /// The request's whole body, at most `limit` bytes: 413 `M_TOO_LARGE` on a declared length
    /// over it (before reading any), or once more arrives.
    static func readBody(_ request: Request, upTo limit: Int) async throws(MatrixError) -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw .tooLarge("Request body over \(limit) bytes")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .tooLarge("Request body over \(limit) bytes")
        } catch is HTTPParserError {
            throw .malformedRequest
        } catch {
            throw .badJSON("Could not read the request body")
        }
    }

    static func json(_ status: Int, _ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func errorResponse(_ error: MatrixError) -> Response {
        var response = json(error.status, error.body.compactBytes())
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        if let allowed = error.allowedMethods { response.headers[.allow] = allowed }
        return response
    }
}

