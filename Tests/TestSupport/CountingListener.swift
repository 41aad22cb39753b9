import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real TCP listener on a loopback address that accepts every connection, counts it and closes
/// it at once — the proof that nothing connected where nothing may connect —, or, given an
/// `answer`, reads the request's head and writes those bytes first (an upstream with a fixed answer).
public final class CountingListener: Sendable {
    public let port: Int
    /// `127.0.0.1` or `::1`.
    public let host: String
    private let descriptor: Int32
    private let accepted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let answer: [UInt8]?
    /// Connections answered and kept open (`holdsConnections`), closed by ``stop()``.
    private let held = Mutex<[Int32]>([])
    private let holdsConnections: Bool

    /// Listens on an ephemeral port of `host` (`127.0.0.1` or `::1`). `holdsConnections`: after
    /// the answer, a connection stays open, silent, until ``stop()`` (an upstream that stalls
    /// mid-answer).
    public init(host: String = "127.0.0.1", answer: [UInt8]? = nil, holdsConnections: Bool = false) throws {
        self.answer = answer
        self.holdsConnections = holdsConnections
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw WorkerProcessError(description: "socket() failed (errno \(errno))") }
        var storage = sockaddr_storage()
        var length: socklen_t
        if family == AF_INET6 {
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    address.pointee.sin6_family = sa_family_t(AF_INET6)
                    _ = inet_pton(AF_INET6, host, &address.pointee.sin6_addr)
                }
            }
        } else {
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    address.pointee.sin_family = sa_family_t(AF_INET)
                    address.pointee.sin_addr.s_addr = inet_addr(host)
                }
            }
        }
        let bound = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else {
            Glibc.close(descriptor)
            throw WorkerProcessError(description: "cannot listen on \(host) (errno \(errno))")
        }
        let named = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else {
            Glibc.close(descriptor)
            throw WorkerProcessError(description: "getsockname() failed (errno \(errno))")
        }
        let networkPort = withUnsafePointer(to: &storage) { pointer in
            family == AF_INET6
                ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        self.port = Int(UInt16(bigEndian: networkPort))
        self.host = host
        self.descriptor = descriptor
        // A thread of its own (a serial queue's): a global queue's is one of Swift's task threads.
        DispatchQueue(label: "counting-listener").async { [self] in acceptLoop() }
    }

    /// Connections accepted so far.
    public var acceptedConnections: Int { accepted.load(ordering: .sequentiallyConsistent) }

    /// `host:port` as a server name (IPv6 in brackets).
    public var serverName: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Stops accepting and closes the socket.
    public func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        finished.wait()
        Glibc.close(descriptor)
        for connection in held.withLock({ $0 }) { Glibc.close(connection) }
    }

    private func acceptLoop() {
        defer { finished.signal() }
        while !stopped.load(ordering: .sequentiallyConsistent) {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let connection = accept(descriptor, nil, nil)
            if connection >= 0 {
                accepted.add(1, ordering: .sequentiallyConsistent)
                if let answer { Self.answer(connection, with: answer) }
                if holdsConnections {
                    held.withLock { $0.append(connection) }
                } else {
                    Glibc.close(connection)
                }
            }
        }
    }

    /// Reads until the end of a request head (or 2 s of silence), then writes `answer`.
    private static func answer(_ connection: Int32, with answer: [UInt8]) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.suffix(4).elementsEqual("\r\n\r\n".utf8) {
            var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 2_000) > 0 else { break }
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
