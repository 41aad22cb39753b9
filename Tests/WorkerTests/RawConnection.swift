import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a worker on loopback, for tests that send HTTP byte by byte (or not
/// at all) and watch whether the worker answers or closes. Waits run on a Dispatch thread of their
/// own, never on the cooperative pool.
final class RawConnection: Sendable {
    private let descriptor: Int32

    /// Connects to the worker on `port`; `bufferBytes` sets the socket's send and receive
    /// buffers (before connecting, so that the receive window is small from the start).
    init(port: Int, bufferBytes: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = bufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let connected = withLoopbackAddress(port: port) { connect(descriptor, $0, $1) }
        guard connected == 0 else {
            close(descriptor)
            throw RawConnectionError(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Sends all of `bytes`; false once the peer has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Shuts the connection's sending side (the worker reads an end of stream); reading goes on.
    func closeSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// True if the peer has closed the connection (an end of stream or a reset is waiting), without blocking.
    var isClosedByPeer: Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        let peeked = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Sends `bytes` unless the peer stops taking them: false once `quiet` passes without a byte
    /// taken (or the peer closed the connection), true when all were sent.
    func sendUnlessStalled(_ bytes: [UInt8], quiet: Duration) async -> Bool {
        let descriptor = descriptor
        let milliseconds = Self.milliseconds(quiet)
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "raw-connection").async {
                var offset = 0
                while offset < bytes.count {
                    let sent = bytes[offset...].withUnsafeBytes {
                        Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                    if sent > 0 {
                        offset += sent
                        continue
                    }
                    guard sent < 0, errno == EAGAIN || errno == EWOULDBLOCK else { return continuation.resume(returning: false) }
                    var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    guard poll(&poller, 1, milliseconds) > 0 else { return continuation.resume(returning: false) }
                }
                continuation.resume(returning: true)
            }
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Everything the peer sends until it closes the connection, or until `quiet` passes with
    /// nothing new; `closed` tells which. (Waits on a serial queue's thread: a global queue's
    /// would be one of Swift's task threads.)
    func read(quiet: Duration) async -> (bytes: [UInt8], closed: Bool) {
        let descriptor = descriptor
        let milliseconds = Self.milliseconds(quiet)
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "raw-connection").async {
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                    guard poll(&poller, 1, milliseconds) > 0 else { return continuation.resume(returning: (received, false)) }
                    let count = recv(descriptor, &buffer, buffer.count, 0)
                    if count <= 0 { return continuation.resume(returning: (received, true)) }
                    received += buffer[0..<count]
                }
            }
        }
    }

    /// Sends `request` and reads the answer (the first bytes the peer sends within `quiet`).
    func exchange(_ request: String, quiet: Duration = .seconds(2)) async -> String {
        send(request)
        return String(decoding: await read(quiet: quiet).bytes, as: UTF8.self)
    }
}

struct RawConnectionError: Error, CustomStringConvertible {
    let description: String
}
