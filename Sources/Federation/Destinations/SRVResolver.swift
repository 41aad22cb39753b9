import CResolv

/// Looks up SRV records. The system resolver (libresolv's `res_query`) by default; tests inject
/// their own answers (there is no DNS in the test environment).
public struct SRVResolver: Sendable {
    /// What a look-up of one SRV name found.
    public enum Answer: Sendable, Equatable {
        /// The name's SRV records (never empty).
        case records([SRVRecord])
        /// The name has no SRV records: NXDOMAIN, no data, or an answer without SRV records.
        /// Discovery moves on to its next step.
        case none
        /// No answer: a timeout, a server failure, no look-up thread free, the caller cancelled.
        /// Says nothing about the name, so discovery must not move on as if it had no records.
        case failed(reason: String)
    }

    /// The answer for an SRV name (e.g. `_matrix-fed._tcp.example.org`).
    public let lookup: @Sendable (_ name: String) async -> Answer

    public init(lookup: @escaping @Sendable (_ name: String) async -> Answer) {
        self.lookup = lookup
    }

    /// `res_query` on one of the running task's ``LookUpThreads`` (``LookUpThreads/current``;
    /// never on an event loop or a Swift concurrency thread), abandoned after `timeout` (the
    /// resolver's own retries, from `/etc/resolv.conf`, can take far longer).
    public static func system(timeout: Duration = .seconds(5)) -> SRVResolver {
        SRVResolver { name in
            await LookUpThreads.current.run(
                timeout: timeout, fallback: .failed(reason: "no answer within \(timeout) or no look-up thread free")
            ) { query(name) }
        }
    }

    /// A blocking `res_query` for `name`'s SRV records.
    private static func query(_ name: String) -> Answer {
        var response = [UInt8](repeating: 0, count: 8192)
        let length = response.withUnsafeMutableBufferPointer { buffer in
            res_query(name, Int32(ns_c_in.rawValue), Int32(ns_t_srv.rawValue), buffer.baseAddress, Int32(buffer.count))
        }
        return answer(length: Int(length), resolverError: cresolv_h_errno(), response: response)
    }

    /// The answer `res_query` gave: `length` bytes of `response`, or -1 and `resolverError` (`h_errno`).
    static func answer(length: Int, resolverError: Int32, response: [UInt8]) -> Answer {
        guard length >= 0 else {
            switch resolverError {
            case HOST_NOT_FOUND, NO_DATA: return .none
            case TRY_AGAIN: return .failed(reason: "temporary resolver failure (SERVFAIL or no answer)")
            default: return .failed(reason: "resolver failure (h_errno \(resolverError))")
            }
        }
        guard length <= response.count else { return .failed(reason: "answer over \(response.count) bytes") }
        let records = SRVRecord.parse(response: Array(response.prefix(length)))
        return records.isEmpty ? .none : .records(records)
    }
}
