#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `poll(2)` for readability.
enum SocketPoll {
    enum Readiness: Equatable {
        /// These descriptors are readable (data, EOF or an error condition).
        case readable([Int32])
        case timedOut
        case failed
    }

    /// Waits until one of `descriptors` is readable or `timeoutMilliseconds` pass (0 = just check,
    /// -1 = forever). Retries on EINTR.
    static func waitReadable(_ descriptors: [Int32], timeoutMilliseconds: Int32) -> Readiness {
        guard descriptors.allSatisfy({ $0 >= 0 }) else { return .failed }
        var entries = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while true {
            let count = poll(&entries, nfds_t(entries.count), timeoutMilliseconds)
            if count > 0 { return .readable(entries.filter { $0.revents != 0 }.map(\.fd)) }
            if count == 0 { return .timedOut }
            if errno != EINTR { return .failed }
        }
    }
}
