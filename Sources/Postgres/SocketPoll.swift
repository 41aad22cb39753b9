#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `poll(2)` on a single descriptor.
enum SocketPoll {
    enum Readiness { case readable, timedOut, failed }

    /// Waits until `fd` is readable (data, EOF or an error condition) or `timeoutMilliseconds`
    /// pass (0 = just check, -1 = forever). Retries on EINTR.
    static func waitReadable(_ fd: Int32, timeoutMilliseconds: Int32) -> Readiness {
        guard fd >= 0 else { return .failed }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let count = poll(&descriptor, 1, timeoutMilliseconds)
            if count > 0 { return .readable }
            if count == 0 { return .timedOut }
            if errno != EINTR { return .failed }
        }
    }
}
