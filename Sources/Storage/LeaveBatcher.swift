import MatrixCore
import Postgres
import Synchronization
import WorkDeadline

/// Group commit for leaves. Leaves that arrive while a writer is busy queue up, and the next free
/// writer stores everything queued (up to `maxBatch`) in one transaction. Nothing waits for a
/// timer: under light load every leave is written alone at once; under load the batches grow by
/// themselves.
///
/// **One writer while it keeps up.** Another writer (up to `maxWriters`) starts only when a full
/// batch is waiting. A second writer at once would split what arrives between two calls of one or
/// two leaves each, and `store_leaves`' cost is mostly per call (sql/README.md: 1.24 million
/// instructions for 1 leave, 4.8 million for 8): with one writer the leaves that arrive during its
/// call are its next batch. Measured side by side (scripts/ab.sh, one worker, forwarding on, 8
/// rooms): Postgres CPU per leave 0.37–0.38 → 0.34 ms at concurrency 32, 0.78–0.81 → 0.73–0.74
/// at a fixed 1,000/s; throughput within the box's noise. A writer held up (another process holds
/// a room's lock) does not hold everyone up for long: once a full batch of other rooms' leaves
/// queues, the next writer takes it.
///
/// **Writers hold disjoint rooms.** A writer takes only queued leaves of rooms no other writer is
/// writing, and holds those rooms until its transaction has ended; leaves of a held room stay
/// queued (in order) for its holder's next batch. So two writers of this process never wait for
/// each other's room locks in `store_leaves` (they did: at concurrency 32 over 8 rooms a batch
/// waited about 4 ms of an 11 ms call for rooms other batches held) — the room locks remain for
/// other processes and imports. Rooms are compared byte for byte (`ExactString`).
///
/// **An idle batcher's caller writes its own leave.** With no writer busy (the queue is then
/// empty), the caller becomes the writer. It first yields once, so that the tasks already
/// runnable — under load, requests on their way to their own writes — queue behind it: if none
/// did, it writes alone on its own task (no writer task to start and no continuation to resume —
/// two thread hops fewer per leave under light load, where most leaves arrive alone), else it
/// joins them and a writer task writes them together (at concurrency 32 on one worker: 9,991 →
/// 8,649 `store_leaves` calls for 96,000 leaves). What queued meanwhile goes to a writer task
/// when its write ends.
///
/// A queued leave's caller gives up at its request's deadline (``DeadlineScope``); its leave
/// stays queued and is written with the next batch (a retry then finds it stored). A caller cut
/// short while writing its own leave releases its room at once, its statement still finishing on
/// its connection: a writer taking that room meanwhile waits for the room's lock in Postgres.
///
/// A batch that fails as a whole because of one leave's data (a check constraint, an invalid
/// value: SQLSTATE classes 22 and 23) is written again one leave at a time, so only that leave
/// fails; any other failure (the database unreachable, the pool exhausted, contention that
/// outlasted the retries) is every leave's answer.
final class LeaveBatcher: Sendable {
    private typealias Waiting = (write: LeaveWrite, continuation: FirstResume<LeaveOutcome>)

    private struct State {
        var queue: [Waiting] = []
        var writers = 0
        /// The rooms of the batches being written, each held by one writer.
        var heldRooms: Set<ExactString> = []
    }

    private let state = Mutex(State())
    private let maxWriters: Int
    private let maxBatch: Int
    private let writeOne: @Sendable (LeaveWrite) async throws -> LeaveOutcome
    private let writeMany: @Sendable ([LeaveWrite]) async throws -> [Result<LeaveOutcome, any Error>]

    /// `writeMany` returns one result per leave, in order.
    init(maxWriters: Int, maxBatch: Int,
         writeOne: @escaping @Sendable (LeaveWrite) async throws -> LeaveOutcome,
         writeMany: @escaping @Sendable ([LeaveWrite]) async throws -> [Result<LeaveOutcome, any Error>]) {
        self.maxWriters = max(1, maxWriters)
        self.maxBatch = max(1, maxBatch)
        self.writeOne = writeOne
        self.writeMany = writeMany
    }

    /// Stores the leave, alone or with others, and returns its own outcome.
    func store(_ write: LeaveWrite) async throws -> LeaveOutcome {
        let room = ExactString(write.event.roomID)
        let writesItself = state.withLock { state -> Bool in
            // No writer: nothing is queued (a writer ends only when it may take nothing queued,
            // and the last one may take everything), so this leave is the next batch on its own.
            guard state.writers == 0 else { return false }
            state.writers = 1
            state.heldRooms.insert(room)
            return true
        }
        if writesItself {
            // Let the tasks already runnable run first: under load some are on their way here and
            // queue behind this leave, to share its transaction; with nothing else to run, this
            // returns at once.
            await Task.yield()
            var handedOver = false
            defer {
                if !handedOver, let next = nextBatch(releasing: [room]) { startWriter(first: next) }
            }
            if state.withLock({ !$0.queue.isEmpty }) {
                // Leaves queued: this one joins them, and a writer task (holding the slot and the
                // room this caller took) writes them together. Unless the deadline has already
                // passed: then nothing is handed over and the deferred hand-off passes both on.
                return try await DeadlineScope.wait { continuation in
                    handedOver = true
                    let (queued, rooms) = state.withLock { state in
                        state.heldRooms.remove(room)   // this leave's room: its queued leaves join too
                        defer { state.heldRooms.insert(room) }
                        return Self.take(maxBatch - 1, from: &state)
                    }
                    startWriter(first: ([(write, continuation)] + queued, rooms.union([room])))
                }
            }
            return try await writeOne(write)
        }
        return try await DeadlineScope.wait { continuation in
            let startWriter = state.withLock { state -> Bool in
                state.queue.append((write, continuation))
                // A held room's leave waits for its holder's next batch: a new writer would find
                // nothing it may take.
                guard state.writers < maxWriters, !state.heldRooms.contains(room),
                      state.writers == 0 || state.queue.count >= maxBatch else {
                    return false
                }
                state.writers += 1
                return true
            }
            if startWriter { self.startWriter() }
        }
    }

    /// A writer task, outside the deadline of the request that happens to start it: its batch is
    /// everyone's.
    private func startWriter(first: (batch: [Waiting], rooms: Set<ExactString>)? = nil) {
        DeadlineScope.outsideAnyRequest {
            _ = Task { await self.writeUntilIdle(first: first) }
        }
    }

    /// One writer: writes `first` (a batch it already took), else takes what is queued, and writes
    /// until nothing queued may be taken.
    private func writeUntilIdle(first: (batch: [Waiting], rooms: Set<ExactString>)? = nil) async {
        var next = first ?? nextBatch(releasing: [])
        while let (batch, rooms) = next {
            defer { next = nextBatch(releasing: rooms) }
            if await answer(batch) { continue }
            // One room's lock could not be had in time (another worker's long transaction holds
            // it): the batch's other rooms are not held to it — each room's leaves are written
            // apart (always answered: one room), and only the busy room's fail, its lock waited
            // for once more.
            for room in rooms {
                await answer(batch.filter { ExactString($0.write.event.roomID) == room })
            }
        }
    }

    /// Writes `batch` and answers each leave — except when a batch of several rooms could not
    /// have one of their locks in time (SQLSTATE 55P03): then it answers none and returns false.
    @discardableResult
    private func answer(_ batch: [Waiting]) async -> Bool {
        if batch.count == 1 {
            await writeAlone(batch[0])
            return true
        }
        do {
            let results = try await writeMany(batch.map(\.write))
            for (waiting, result) in zip(batch, results) { waiting.continuation.resume(with: result) }
        } catch let error as PostgresError where error.isCausedByOneRowsValues {
            for waiting in batch { await writeAlone(waiting) }
        } catch let error as PostgresError where error.sqlState == "55P03"
            && Set(batch.map { ExactString($0.write.event.roomID) }).count > 1
        {
            return false
        } catch {
            for waiting in batch { waiting.continuation.resume(throwing: error) }
        }
        return true
    }

    private func writeAlone(_ waiting: Waiting) async {
        do {
            waiting.continuation.resume(returning: try await writeOne(waiting.write))
        } catch {
            waiting.continuation.resume(throwing: error)
        }
    }

    /// Releases the rooms of this writer's last batch, then takes the next batch — the queued
    /// leaves, in order, of rooms no other writer holds, up to `maxBatch` — and holds its rooms.
    /// Nil (and this writer ends) when nothing queued may be taken: what is left belongs to rooms
    /// other writers hold, and they take it after their batch.
    private func nextBatch(releasing released: Set<ExactString>) -> (batch: [Waiting], rooms: Set<ExactString>)? {
        state.withLock { state in
            state.heldRooms.subtract(released)
            let (batch, rooms) = Self.take(maxBatch, from: &state)
            guard !batch.isEmpty else {
                state.writers -= 1
                return nil
            }
            return (batch, rooms)
        }
    }

    /// Takes the queued leaves, in order, of rooms no writer holds, up to `count`, and holds their
    /// rooms.
    private static func take(_ count: Int, from state: inout State) -> (batch: [Waiting], rooms: Set<ExactString>) {
        var batch: [Waiting] = []
        var rooms: Set<ExactString> = []
        var left: [Waiting] = []
        for waiting in state.queue {
            let room = ExactString(waiting.write.event.roomID)
            if batch.count < count, !state.heldRooms.contains(room) {
                batch.append(waiting)
                rooms.insert(room)
            } else {
                left.append(waiting)
            }
        }
        state.queue = left
        state.heldRooms.formUnion(rooms)
        return (batch, rooms)
    }

}

extension PostgresError {
    /// Data exceptions (22) and integrity constraint violations (23): caused by the values of one
    /// of the rows a shared statement carries — worth running each alone, so that only its own
    /// caller fails (``LeaveBatcher``, ``LeaveContextReads``).
    var isCausedByOneRowsValues: Bool {
        guard let state = sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }
}
