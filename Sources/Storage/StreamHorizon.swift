import Postgres
import WorkDeadline
import Synchronization

/// The event stream's safe point for this process (sql/0011, sql/README.md "Event stream"): a
/// stream position at or below which every event is committed and visible, or rolled back for
/// ever. Event writers commit in any order (they hold the stream lock shared), so a reader of
/// `… WHERE stream_ordering > $pos ORDER BY stream_ordering` reads only up to this point — else it
/// could pass a position whose transaction commits later, and skip that event for good.
///
/// One per process (`RoomStore.horizon`), shared by the federation sender and the homeserver feed.
/// ``safePosition()`` reads `stream_horizon()` — one round trip — and promotes the candidates
/// whose writers have ended (`StreamHorizonCandidates`). Callers arriving while a read is under
/// way share the next one: a read that began before a caller asked could predate the commit that
/// woke it.
public final class StreamHorizon: Sendable {
    private struct State {
        var candidates = StreamHorizonCandidates()
        /// The read under way, if any.
        var running: (id: UInt64, task: Task<Int64, any Error>)?
        /// The read that starts when `running` ends; callers arriving meanwhile wait for it.
        var queued: (id: UInt64, task: Task<Int64, any Error>)?
        var lastID: UInt64 = 0
    }

    private let pool: PostgresPool
    private let state = Mutex(State())

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The safe point after a read of the stream's horizon begun after this call; never lower than
    /// an earlier answer. With nobody writing events, it is the last position handed out.
    public func safePosition() async throws -> Int64 {
        let task = state.withLock { state -> Task<Int64, any Error> in
            if let queued = state.queued { return queued.task }
            state.lastID += 1
            let id = state.lastID
            let previous = state.running?.task
            let task = DeadlineScope.outsideAnyRequest {   // shared by every caller
                Task { [self] in
                    _ = await previous?.result
                    defer { finish(id) }
                    return try await refresh()
                }
            }
            if previous == nil { state.running = (id, task) } else { state.queued = (id, task) }
            return task
        }
        return try await task.value
    }

    /// The safe point of the latest read, without reading again: what a claim made right after a
    /// scan (which read it) uses. Any value it returns is safe; only how far it reaches ages.
    public var knownSafePosition: Int64 {
        state.withLock { $0.candidates.safePosition }
    }

    /// One read of `stream_horizon()`, recorded. Reads never overlap (see `safePosition`), so they
    /// are recorded in the order they were made. The read asks for the WAL the pending candidates
    /// wait for to be flushed (`sql/0026`: under load it already is, and nothing is done).
    private func refresh() async throws -> Int64 {
        let walNeeded = state.withLock { $0.candidates.walNeeded }
        let read = try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT "position", writers, wal_inserted, wal_flushed, server_started_us FROM stream_horizon($1)
                """, [.int(walNeeded)])
            guard let row = result.rows.first, let position = row.int64(0), let writers = row.stringArray(1),
                let walInserted = row.int64(2), let walFlushed = row.int64(3), let serverStarted = row.int64(4)
            else {
                throw StorageError.malformedRow("stream_horizon")
            }
            return (position: position, writers: Set(writers), walInserted: walInserted, walFlushed: walFlushed,
                    serverStarted: serverStarted)
        }
        return state.withLock { state in
            state.candidates.record(
                position: read.position, writers: read.writers, walInserted: read.walInserted, walFlushed: read.walFlushed,
                serverStarted: read.serverStarted)
            return state.candidates.safePosition
        }
    }

    /// The read `id` ended: the queued one (already waiting on it) becomes the running one.
    private func finish(_ id: UInt64) {
        state.withLock { state in
            guard state.running?.id == id else { return }
            state.running = state.queued
            state.queued = nil
        }
    }
}
