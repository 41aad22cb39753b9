import Logging
import Postgres
import Storage
import Synchronization

/// Wakes feed readers waiting for new events: one LISTEN connection per process on the stream's
/// channel (`StreamNotification.channel`), relayed to every waiter subscribed at that moment. A
/// notification is a wake-up, never a delivery: the waiter reads the stream again after it.
final class StreamWakeups: Sendable {
    /// A waiter's registration; take it before reading the stream so that a notification
    /// arriving between the read and the wait is not lost.
    struct Subscription: Sendable {
        let id: UInt64
        let stream: AsyncStream<Void>

        /// Returns at the next notification since `subscribe()`, or after `duration`.
        func wait(upTo duration: Duration) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in stream { return } }
                group.addTask { try? await Task.sleep(for: duration) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// The waiters subscribed now, by ID.
    private final class Registry: Sendable {
        let waiters = Mutex<[UInt64: AsyncStream<Void>.Continuation]>([:])

        func wakeAll() {
            for continuation in waiters.withLock({ Array($0.values) }) { continuation.yield() }
        }
    }

    private let registry = Registry()
    private let nextID = Atomic<UInt64>(0)
    private let closing = Atomic<Bool>(false)
    private let listener: PostgresListener?

    /// Listens on the database at `url` (the direct URL: LISTEN needs a session).
    init(url: String, logger: Logger) {
        do {
            listener = try PostgresListener(url: url, channels: [StreamNotification.channel])
        } catch {
            logger.error("homeserver feed: cannot listen for new events; polling once a second", metadata: ["error": "\(error)"])
            listener = nil
        }
        if let listener {
            Task { [registry] in
                for await _ in listener.events { registry.wakeAll() }
            }
        }
    }

    func subscribe() -> Subscription {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        registry.waiters.withLock { $0[id] = continuation }
        return Subscription(id: id, stream: stream)
    }

    func unsubscribe(_ subscription: Subscription) {
        registry.waiters.withLock { $0.removeValue(forKey: subscription.id) }?.finish()
    }

    /// Whether `stop()` was called: waiting readers answer with what they have.
    var isClosing: Bool { closing.load(ordering: .acquiring) }

    /// Closes the LISTEN connection (the relay then ends) and wakes every waiter. Idempotent.
    func stop() {
        closing.store(true, ordering: .releasing)
        listener?.stop()
        registry.wakeAll()
    }
}

/// Reads the homeserver feed: the events the fleet accepted after a position, waiting up to a
/// bound for the first one when there is none yet.
struct HomeserverFeed: Sendable {
    /// Re-read at least this often while waiting: a lost notification delays an event no longer.
    static let pollInterval = Duration.seconds(1)

    let rooms: RoomStore
    let wakeups: StreamWakeups
    /// The longest a read waits, whatever the caller asks for.
    let maximumWait: Duration

    /// The events after `position`; throws ``PositionBeyondStream`` for a position the stream
    /// has not reached (no read gave it: the database was restored to an earlier point, or failed
    /// over to a replica that was behind) — answered empty, the reader would wait there for ever
    /// while the leaves accepted below it went by.
    func read(after position: Int64, limit: Int, wait: Duration) async throws -> [FeedEvent] {
        let head = try await rooms.streamHead()
        guard position <= head else { throw PositionBeyondStream(head: head) }
        let deadline = ContinuousClock.now + min(wait, maximumWait)
        while true {
            let subscription = wakeups.subscribe()
            defer { wakeups.unsubscribe(subscription) }
            let events = try await rooms.acceptedEvents(after: position, limit: limit)
            let now = ContinuousClock.now
            if !events.isEmpty || now >= deadline || Task.isCancelled || wakeups.isClosing { return events }
            await subscription.wait(upTo: min(deadline - now, Self.pollInterval))
        }
    }
}

/// A feed read from a position above the stream's last one (``HomeserverFeed/read(after:limit:wait:)``).
struct PositionBeyondStream: Error, CustomStringConvertible {
    /// The stream's last position handed out.
    let head: Int64

    var description: String {
        "from is beyond the stream's last position \(head) (was the database restored?); read again from a position at or below it"
    }
}
