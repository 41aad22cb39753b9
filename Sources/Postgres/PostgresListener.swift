import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated connection that LISTENs on channels and yields what arrives as an `AsyncStream`, on its
/// own queue (it blocks there, never on the consumer's thread). It reconnects after the connection
/// breaks and then yields `.listening` again: notifications sent while disconnected are lost, so a
/// consumer re-scans whatever they announce whenever it sees `.listening`.
public final class PostgresListener: Sendable {
    /// What the listener reports.
    public enum Event: Sendable, Equatable {
        /// LISTEN is in effect (first connect or a reconnect).
        case listening
        case notification(PostgresNotification)
    }

    /// The single stream of events; it finishes after `stop()`. Unbounded: a slow consumer loses nothing.
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    /// A pipe whose write end `stop()` writes to, waking the blocked `poll`.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let isStopped = Atomic<Bool>(false)

    /// Starts listening right away, on a queue of its own.
    public init(url: String, channels: [String], connectTimeoutSeconds: Int = 5, reconnectDelay: Duration = .seconds(1)) throws(PostgresError) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw PostgresError(kind: .connectionFailed, message: "cannot create the listener's wake-up pipe (errno \(errno))")
        }
        wakeRead = descriptors[0]
        wakeWrite = descriptors[1]
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] _ in self?.stop() }
        DispatchQueue(label: "postgres.listener").async { [self] in
            run(url: url, channels: channels, connectTimeoutSeconds: connectTimeoutSeconds, reconnectDelay: reconnectDelay)
        }
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Stops listening, closes the connection and finishes `events`. Idempotent.
    public func stop() {
        guard !isStopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private var stopped: Bool { isStopped.load(ordering: .acquiring) }

    /// On the listener's queue until stopped: connect, LISTEN, relay notifications; on failure wait
    /// `reconnectDelay` (or until stopped) and start over.
    private func run(url: String, channels: [String], connectTimeoutSeconds: Int, reconnectDelay: Duration) {
        defer { continuation.finish() }
        let delayMilliseconds = Int32(clamping: reconnectDelay.components.seconds * 1_000
                                      + reconnectDelay.components.attoseconds / 1_000_000_000_000_000)
        while !stopped {
            if let connection = try? PostgresConnection(url: url, connectTimeoutSeconds: connectTimeoutSeconds),
               (try? connection.listen(to: channels)) != nil {
                continuation.yield(.listening)
                relay(from: connection)
            }
            if stopped { return }
            _ = SocketPoll.waitReadable([wakeRead], timeoutMilliseconds: max(0, delayMilliseconds))
        }
    }

    /// Yields notifications until the connection breaks or `stop()` is called.
    private func relay(from connection: PostgresConnection) {
        while !stopped {
            switch connection.waitForNotifications(wakeDescriptor: wakeRead) {
            case .received(let notifications):
                for notification in notifications { continuation.yield(.notification(notification)) }
            case .woken, .disconnected:
                return
            }
        }
    }
}
