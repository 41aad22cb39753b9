import AsyncHTTPClient
import Hummingbird
import LeaveService
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WorkDeadline

/// `LEAVE_WORKER_PASSTHROUGH_URL`: `make_leave`/`send_leave` for a room this fleet does not hold
/// are sent on, unchanged, to the homeserver of record — method, path, query, `Authorization` and
/// body exactly as received (the X-Matrix signature stays valid: the destination is the same server
/// name) — and its status and JSON body answered, within `LEAVE_WORKER_PASSTHROUGH_TIMEOUT_MS`. Never
/// for a held room or another route. The URL is the operator's, so outbound address checks do not
/// apply. As a service, it closes its HTTP client at shutdown (after the listener stops).
public final class Passthrough: Service, Sendable {
    /// The most of the upstream's body relayed; a larger answer is a 502.
    static let maxResponseBytes = 1 << 20

    let baseURL: String
    let timeout: Duration
    let leaves: LeaveService
    let client: HTTPClient
    let logger: Logger

    /// Nil when `LEAVE_WORKER_PASSTHROUGH_URL` is not set (a room not held is then 404, as before).
    public static func make(settings: Settings, leaves: LeaveService, logger: Logger) throws -> Passthrough? {
        guard let url = try settings.passthroughURL else { return nil }
        return Passthrough(baseURL: url, timeout: try settings.passthroughTimeout, leaves: leaves, logger: logger)
    }

    init(baseURL: String, timeout: Duration, leaves: LeaveService, logger: Logger) {
        self.baseURL = baseURL
        self.timeout = timeout
        self.leaves = leaves
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        // Connection attempts are retried (AsyncHTTPClient's advice) for at most this long: an
        // unreachable homeserver is a 502 within 2 s, not after the whole timeout.
        configuration.timeout.connect = .nanoseconds(min(timeout, .seconds(2)).saturatingNanoseconds)
        // The deadline below ends with the answer's head; an upstream silent this long mid-body
        // is a timeout too (one that trickles is ended by the request's deadline).
        configuration.timeout.read = .nanoseconds(timeout.saturatingNanoseconds)
        configuration.tracing.tracer = nil   // no tracer is bootstrapped: skip building spans
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }

    /// Whether the room is one to pass through: not held here (the service's cached room versions,
    /// so a held room costs no extra database read; its storage failure maps like any other).
    func passes(roomID: String) async throws(MatrixError) -> Bool {
        try await answering { () async throws(LeaveServiceError) in try await !leaves.holds(roomID: roomID) }
    }

    /// `application/json`, with or without parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// Sends the request on; the upstream's JSON answer (status and body), or 502/504 with a
    /// Matrix error body (also for an answer that is not JSON).
    func forward(method: String, target: String, request: Request, body: ByteBuffer?) async -> Response {
        var outbound = HTTPClientRequest(url: baseURL + target)
        outbound.method = HTTPMethod(rawValue: method)
        for value in request.headers[values: .authorization] { outbound.headers.add(name: "Authorization", value: value) }
        if let body {
            if let type = request.headers[.contentType] { outbound.headers.add(name: "Content-Type", value: type) }
            outbound.body = .bytes(body)
        }
        let deadline = NIODeadline.now() + .nanoseconds(timeout.saturatingNanoseconds)
        let client = client, prepared = outbound
        do {
            // Also ended by the request's deadline (its own task: a proxied request can wait long).
            let (status, contentType, bytes) = try await DeadlineScope.bounded {
                let response = try await client.execute(prepared, deadline: deadline)
                return (Int(response.status.code), response.headers.first(name: "Content-Type"),
                        try await response.body.collect(upTo: Self.maxResponseBytes))
            }
            // A Matrix answer is JSON: anything else (a proxy's error page naming its software)
            // is not relayed.
            guard let contentType, Self.isJSON(contentType) else {
                logger.warning("passthrough: upstream answered without JSON", metadata: ["status": "\(status)"])
                return FederationResponder.errorResponse(
                    MatrixError(status: 502, errcode: "M_UNKNOWN", "The homeserver of record gave no Matrix answer"))
            }
            var headers = HTTPFields()
            headers[.contentType] = contentType
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: bytes))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            logger.warning("passthrough: upstream timed out", metadata: ["error": "\(error)"])
            return FederationResponder.errorResponse(MatrixError(status: 504, errcode: "M_UNKNOWN", "The homeserver of record did not answer in time"))
        } catch {
            logger.warning("passthrough: upstream failed", metadata: ["error": "\(error)"])
            return FederationResponder.errorResponse(MatrixError(status: 502, errcode: "M_UNKNOWN", "The homeserver of record could not be reached"))
        }
    }
}
