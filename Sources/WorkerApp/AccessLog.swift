import LeaveService
import Logging
import MatrixCrypto

/// One access-log line per request at `info`: `request_id` (already in the logger's metadata),
/// `origin` (the X-Matrix origin the request claims, when it has a parseable one: the
/// authenticated origin when authentication succeeded — the same value — without parsing the
/// headers again), `method`,
/// `route` (the route's name, never the raw path), `status`, `errcode`, `duration_ms` and
/// `outcome` (`ok`, `refused` for 4xx, `failed` for 5xx). A refusal carries its reason (`error`);
/// a failure is logged again at `warning` with what only the log may see (`detail`).
enum AccessLog {
    static func record(
        logger: Logger, method: String, route: String, status: Int, failure: MatrixError?,
        origin authenticated: String?, authorization: [String], elapsed: Duration
    ) {
        var metadata: Logger.Metadata = [
            "method": .string(method), "route": .string(route), "status": .stringConvertible(status),
            "duration_ms": .stringConvertible(Double(elapsed.saturatingNanoseconds) / 1_000_000),
            "outcome": .string(status >= 500 ? "failed" : status >= 400 ? "refused" : "ok"),
        ]
        if let origin = authenticated ?? claimedOrigin(authorization) { metadata["origin"] = .string(origin) }
        if let failure {
            metadata["errcode"] = .string(failure.errcode)
            metadata["error"] = .string(failure.message)
        }
        logger.info("request", metadata: metadata)
        if let failure, failure.status >= 500 {
            var detail: Logger.Metadata = ["route": .string(route), "error": .string(failure.description)]
            if let text = failure.logDetail { detail["detail"] = .string(text) }
            logger.warning("request failed", metadata: detail)
        }
    }

    /// The origin named by the first parseable X-Matrix header (claimed, not yet verified).
    private static func claimedOrigin(_ headers: [String]) -> String? {
        for header in headers {
            if let authorization = try? XMatrixAuthorization.parse(header) { return authorization.origin }
        }
        return nil
    }
}
