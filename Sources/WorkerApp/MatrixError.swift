import MatrixCore

/// An error answered to a remote server: an HTTP status and a Matrix error body
/// `{"errcode": "M_…", "error": "…"}` (plus `retry_after_ms` and a `Retry-After` header where set).
/// Its texts are clipped to ``maximumTextBytes``: they may quote what the remote server sent (a
/// JSON member name, a number literal, an ID), and answered back or logged whole, one request of
/// 64 KiB cost 64 KiB of log.
public struct MatrixError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The most UTF-8 bytes of ``message`` (and of ``logDetail``).
    public static let maximumTextBytes = 1_024

    public let status: Int
    public let errcode: String
    public let message: String
    /// For 429 and 503: how long the caller should wait.
    public let retryAfterMilliseconds: Int?
    /// What only the log may say (connection errors, addresses, TLS codes): never sent.
    public private(set) var logDetail: String?
    /// For 405: the methods the path takes, sent as `Allow`.
    public private(set) var allowedMethods: String?

    public init(status: Int, errcode: String, _ message: String, retryAfterMilliseconds: Int? = nil) {
        self.status = status
        self.errcode = errcode
        self.message = message.clipped(toUTF8Bytes: Self.maximumTextBytes)
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    public var description: String { "\(status) \(errcode): \(message)" }

    /// The same error with `detail` for the log (the remote caller sees only ``message``).
    public func withLogDetail(_ detail: String) -> MatrixError {
        var error = self
        error.logDetail = detail.clipped(toUTF8Bytes: Self.maximumTextBytes)
        return error
    }

    public static func unrecognized(_ message: String) -> MatrixError { .init(status: 404, errcode: "M_UNRECOGNIZED", message) }
    public static func methodNotAllowed(_ message: String, allowed: String) -> MatrixError {
        var error = MatrixError(status: 405, errcode: "M_UNRECOGNIZED", message)
        error.allowedMethods = allowed
        return error
    }
    /// A request the HTTP decoder cannot read: its head, or its body's framing.
    public static let malformedRequest = MatrixError(status: 400, errcode: "M_UNRECOGNIZED", "Malformed HTTP request")
    public static func tooLarge(_ message: String) -> MatrixError { .init(status: 413, errcode: "M_TOO_LARGE", message) }
    public static func notJSON(_ message: String) -> MatrixError { .init(status: 400, errcode: "M_NOT_JSON", message) }
    public static func badJSON(_ message: String) -> MatrixError { .init(status: 400, errcode: "M_BAD_JSON", message) }
    public static func unauthorized(_ message: String) -> MatrixError { .init(status: 401, errcode: "M_UNAUTHORIZED", message) }
    public static func forbidden(_ message: String) -> MatrixError { .init(status: 403, errcode: "M_FORBIDDEN", message) }
    public static func notFound(_ message: String) -> MatrixError { .init(status: 404, errcode: "M_NOT_FOUND", message) }
    public static func limitExceeded(retryAfterMilliseconds: Int) -> MatrixError {
        .init(status: 429, errcode: "M_LIMIT_EXCEEDED", "Too many requests", retryAfterMilliseconds: retryAfterMilliseconds)
    }
    /// The body every answer of this error carries: `errcode`, `error` and, when set, `retry_after_ms`.
    var body: JSONObject {
        var body: JSONObject = ["errcode": .string(errcode), "error": .string(message)]
        if let retryAfterMilliseconds { body["retry_after_ms"] = .integer(Int64(retryAfterMilliseconds)) }
        return body
    }

    /// `Retry-After` in whole seconds (at least 1), for an error that says when to retry.
    var retryAfterSeconds: Int? { retryAfterMilliseconds.map { max(1, ($0 + 999) / 1000) } }

    /// Our side cannot answer now (database unreachable, pool exhausted, lock retries exhausted).
    public static func unavailable(_ message: String, retryAfterMilliseconds: Int = 1000) -> MatrixError {
        .init(status: 503, errcode: "M_UNKNOWN", message, retryAfterMilliseconds: retryAfterMilliseconds)
    }
}
