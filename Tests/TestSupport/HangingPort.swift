import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that takes connections (the kernel completes them into the listen backlog) and
/// never answers: a destination that hangs.
public final class HangingPort {
    private let descriptor: Int32
    public let port: Int

    public init(port: Int) throws {
        self.port = port
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        let bound = withLoopbackAddress(port: port) { bind(descriptor, $0, $1) }
        guard bound == 0, listen(descriptor, 64) == 0 else {
            Glibc.close(descriptor)
            throw WorkerProcessError(description: "cannot listen on 127.0.0.1:\(port) (errno \(errno))")
        }
    }

    /// Listens on `port`, trying again for up to `patience` while the port is still taken — by a
    /// server that was just stopped and whose socket is still closing (once seen under load).
    public static func listening(on port: Int, patience: Duration = .seconds(5)) async throws -> HangingPort {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try HangingPort(port: port)
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    public func close() {
        Glibc.close(descriptor)
    }
}
