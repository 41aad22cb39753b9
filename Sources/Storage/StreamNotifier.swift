import Postgres
import WorkDeadline
import Synchronization

/// Sends the stream's wake-up (`StreamNotification`) for events a `RoomStore` stored, coalesced:
/// at most one NOTIFY is in flight, and the next one starts at least `minimumInterval` after the
/// previous one started; everything stored meanwhile is announced by that next NOTIFY, naming the
/// highest position among them. After a quiet spell a stored event is announced at once.
///
/// Sending one NOTIFY per leave cost Postgres a statement and a transaction (a NOTIFY takes a
/// transaction ID, so its commit is flushed) and held the leave's pooled connection for one more
/// round trip. A notification is a wake-up, never a delivery (sql/README.md, "Event stream"):
/// listeners read the stream after their last position, so one NOTIFY may stand for many events.
/// One in flight was still one per `store_leaves` call (measured: 14,044 NOTIFYs for 14,061 calls
/// in a 30 s pairs run), each waking every worker's listener, while a sender scans at most once
/// per 50 ms (`FederationSender.scanInterval`): spaced by 10 ms, at most 100 a second.
final class StreamNotifier: Sendable {
    private struct State {
        /// The highest-position event stored since the last NOTIFY was taken for sending.
        var pending: StreamNotification?
        var sending = false
    }

    private let pool: PostgresPool
    private let minimumInterval: Duration
    private let state = Mutex(State())

    init(pool: PostgresPool, minimumInterval: Duration = .milliseconds(10)) {
        self.pool = pool
        self.minimumInterval = minimumInterval
    }

    /// Announces a committed event: now, if no NOTIFY is in flight or waiting out its interval, else
    /// with the next one. Never fails the caller: a NOTIFY that cannot be sent is caught up by the
    /// listeners' slow poll.
    func announce(_ notification: StreamNotification) {
        let startSending = state.withLock { state -> Bool in
            if (state.pending?.streamPosition ?? .min) < notification.streamPosition {
                state.pending = notification
            }
            guard !state.sending else { return false }
            state.sending = true
            return true
        }
        if startSending {
            DeadlineScope.outsideAnyRequest { _ = Task { await sendPending() } }   // everyone's NOTIFY
        }
    }

    /// Sends until nothing is pending, a NOTIFY at most every `minimumInterval`: after each one it
    /// waits out the rest of the interval (announcements meanwhile coalesce into the next), then
    /// ends if nothing came.
    private func sendPending() async {
        while let next = takePending() {
            let started = ContinuousClock.now
            _ = try? await pool.withConnection { connection in
                try connection.query("SELECT pg_notify($1, $2)", [.text(StreamNotification.channel), .text(next.payload)])
            }
            try? await Task.sleep(until: started + minimumInterval)
        }
    }

    private func takePending() -> StreamNotification? {
        state.withLock { state in
            guard let pending = state.pending else {
                state.sending = false
                return nil
            }
            state.pending = nil
            return pending
        }
    }
}
