import CResolv
import Dispatch

/// Looks up SRV records with the system resolver (libresolv's `res_query`). The blocking call
/// runs on a Dispatch queue, never on an event loop or a Swift concurrency thread.
public struct SRVResolver: Sendable {
    private static let queue = DispatchQueue(label: "leave-worker.srv-lookup", attributes: .concurrent)

    public init() {}

    /// The SRV records of `name` (e.g. `_matrix-fed._tcp.example.org`); empty when there are none
    /// or the look-up fails (NXDOMAIN, no answer, resolver error): discovery then moves on.
    public func lookup(_ name: String) async -> [SRVRecord] {
        await withCheckedContinuation { continuation in
            Self.queue.async {
                var answer = [UInt8](repeating: 0, count: 8192)
                let length = answer.withUnsafeMutableBufferPointer { buffer in
                    res_query(name, Int32(ns_c_in.rawValue), Int32(ns_t_srv.rawValue),
                              buffer.baseAddress, Int32(buffer.count))
                }
                guard length > 0 else { return continuation.resume(returning: []) }
                continuation.resume(returning: SRVRecord.parse(response: Array(answer.prefix(Int(length)))))
            }
        }
    }
}
