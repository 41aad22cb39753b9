import CResolv

/// Looks up SRV records with the system resolver (libresolv's `res_query`). The blocking call
/// runs on one of the running task's ``LookUpThreads`` (``LookUpThreads/current``), never on an
/// event loop or a Swift concurrency thread, and is abandoned after `timeout` (the resolver's own
/// retries, from `/etc/resolv.conf`, can take far longer).
public struct SRVResolver: Sendable {
    private let timeout: Duration

    public init(timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    /// The SRV records of `name` (e.g. `_matrix-fed._tcp.example.org`); empty when there are none
    /// or the look-up fails or times out (NXDOMAIN, no answer, resolver error): discovery then moves on.
    public func lookup(_ name: String) async -> [SRVRecord] {
        await LookUpThreads.current.run(timeout: timeout, fallback: []) {
            var answer = [UInt8](repeating: 0, count: 8192)
            let length = answer.withUnsafeMutableBufferPointer { buffer in
                res_query(name, Int32(ns_c_in.rawValue), Int32(ns_t_srv.rawValue), buffer.baseAddress, Int32(buffer.count))
            }
            guard length > 0 else { return [] }
            return SRVRecord.parse(response: Array(answer.prefix(Int(length))))
        }
    }
}
