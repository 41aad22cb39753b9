import Postgres
import Synchronization
import WorkDeadline

/// send_leave's context reads, shared (``RoomStore/leaveContext(roomID:eventID:stateKeys:authEventIDs:prevEventIDs:)``).
typealias LeaveContextReads = SharedReads<LeaveContextRequest, LeaveContext>
/// make_leave's template reads, shared (``RoomStore/templateContext(roomID:stateKeys:extremityLimit:)``).
typealias TemplateContextReads = SharedReads<TemplateContextRequest, TemplateContext>

/// Concurrent reads of one kind — send_leaves' contexts, make_leaves' templates — several per
/// statement. A read that finds no reader busy becomes the reader: it first yields once, so that
/// the tasks already runnable — under load, requests on their way to their own reads — queue
/// behind it; if none did, it reads alone on its caller's task (light load: no queue, no extra
/// hop), else it joins them and a reader task reads them together. One that arrives while a reader
/// is busy queues, and the next reader reads everything queued (up to `maxBatch`) with one
/// statement and hands each caller its part. (The yield: at concurrency 32 on one worker, 7,200 of
/// 96,000 send_leave reads went alone without it, 4,300 with it — and a read alone costs about
/// three times its share of a batch.)
///
/// **One reader while it keeps up**, as ``LeaveBatcher`` has one writer: another reader (up to
/// `maxReaders`, the pool's size) starts only when a full batch is waiting. Readers on every free
/// connection (the first form of this queue) answered most reads alone under load — at
/// concurrency 32 on one worker, 45,000 read statements for 96,000 leaves — and a read answered
/// alone cost the worker's connection thread about three times its share of a batch. With one
/// reader: 15,500 statements, and the worker's CPU per leave ~6 % lower, Postgres' ~12 %
/// (PERFORMANCE.md, eleventh pass). make_leave's reads, shared the same way since the thirteenth
/// pass: 110,947 in 9,733 statements at concurrency 32 (one each before), Postgres' CPU per
/// make_leave −58 %, the worker's −20 %.
///
/// A queued caller gives up at its request's deadline (``DeadlineScope``); its read stays in the
/// batch and its answer is dropped. A shared statement that fails on one request's values (a data
/// exception: SQLSTATE class 22 or 23) is run again one read at a time, so that no request — a
/// hostile peer's included — fails the others queued with it; any other failure (the database
/// unreachable, a timeout) is every queued read's, as a failed single read is its caller's.
final class SharedReads<Request: Sendable, Answer: Sendable>: Sendable {
    private typealias Waiting = (request: Request, continuation: FirstResume<Answer>)

    private struct State {
        var queue: [Waiting] = []
        var readers = 0
    }

    private let state = Mutex(State())
    private let maxReaders: Int
    private let maxBatch: Int
    private let readOne: @Sendable (Request) async throws -> Answer
    private let readMany: @Sendable ([Request]) async throws -> [Answer]

    /// `readMany` returns one answer per request, in order.
    init(maxReaders: Int, maxBatch: Int,
         readOne: @escaping @Sendable (Request) async throws -> Answer,
         readMany: @escaping @Sendable ([Request]) async throws -> [Answer]) {
        self.maxReaders = max(1, maxReaders)
        self.maxBatch = max(1, maxBatch)
        self.readOne = readOne
        self.readMany = readMany
    }

    /// The request's answer, read alone or with others.
    func read(_ request: Request) async throws -> Answer {
        let readsItself = state.withLock { state -> Bool in
            // No reader busy (then nothing is queued either: a reader is busy until the queue is empty).
            guard state.readers == 0 else { return false }
            state.readers = 1
            return true
        }
        if readsItself {
            // Let the tasks already runnable run first: under load some are on their way here and
            // queue behind this read, to share its statement; with nothing else to run, this
            // returns at once.
            await Task.yield()
            var handedOver = false
            defer { if !handedOver, let next = nextBatch() { startReader(first: next) } }
            if state.withLock({ !$0.queue.isEmpty }) {
                // Reads queued: this one joins them, and a reader task (holding the slot this
                // caller took) reads them together. Unless the deadline has already passed: then
                // nothing is handed over and the deferred hand-off passes the slot on.
                return try await DeadlineScope.wait { continuation in
                    handedOver = true
                    let queued = state.withLock { Self.take(maxBatch - 1, from: &$0.queue) }
                    startReader(first: [(request, continuation)] + queued)
                }
            }
            return try await readOne(request)
        }
        return try await DeadlineScope.wait { continuation in
            let startReader = state.withLock { state -> Bool in
                state.queue.append((request, continuation))
                guard state.readers < maxReaders, state.readers == 0 || state.queue.count >= maxBatch else { return false }
                state.readers += 1
                return true
            }
            if startReader { self.startReader() }
        }
    }

    /// A reader task, outside the deadline of the request that happens to start it: its batch is
    /// everyone's.
    private func startReader(first: [Waiting]? = nil) {
        DeadlineScope.outsideAnyRequest {
            _ = Task { await self.readUntilIdle(first: first) }
        }
    }

    /// One reader: reads `first` (a batch it already took), else what is queued, until the queue
    /// is empty.
    private func readUntilIdle(first: [Waiting]?) async {
        var next = first ?? nextBatch()
        while let batch = next {
            defer { next = nextBatch() }
            guard batch.count > 1 else {
                await readAlone(batch[0])
                continue
            }
            do {
                let answers = try await readMany(batch.map(\.request))
                for (waiting, answer) in zip(batch, answers) { waiting.continuation.resume(returning: answer) }
            } catch let error as PostgresError where error.isCausedByOneRowsValues {
                for waiting in batch { await readAlone(waiting) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    private func readAlone(_ waiting: Waiting) async {
        do {
            waiting.continuation.resume(returning: try await readOne(waiting.request))
        } catch {
            waiting.continuation.resume(throwing: error)
        }
    }

    /// Takes up to `maxBatch` queued reads, oldest first; nil (and the reader's slot is given
    /// back) when nothing is queued.
    private func nextBatch() -> [Waiting]? {
        state.withLock { state in
            guard !state.queue.isEmpty else {
                state.readers -= 1
                return nil
            }
            return Self.take(maxBatch, from: &state.queue)
        }
    }

    /// The first `count` of `queue` (all if fewer), taken out of it.
    private static func take(_ count: Int, from queue: inout [Waiting]) -> [Waiting] {
        let taken = Array(queue.prefix(count))
        queue.removeFirst(taken.count)
        return taken
    }
}
