import Synchronization

/// The deadline of one request's work, seen by every wait inside it: a task-local, so the
/// request's own task and its child tasks share it (a task that must outlive the request — a
/// writer, a shared key fetch — is started outside it: ``outsideAnyRequest(_:)``).
///
/// The request's work runs on the request's own task; nothing else runs beside it. Each wait that
/// can take long (a pooled connection, the leave batcher, a shared key fetch) registers how to cut
/// it short, and at the deadline ``expire()`` cuts every wait in progress and refuses any later
/// one with ``DeadlineExceeded`` — so the answer goes out at the deadline even while a statement
/// still runs on its connection's queue, without a task per request to race the work against.
public final class DeadlineScope: Sendable {
    @TaskLocal public static var current: DeadlineScope?

    public let deadline: ContinuousClock.Instant
    private let state = Mutex(State())

    private struct State {
        var expired = false
        var finished = false
        /// How to cut short each wait in progress, by registration.
        var waits: [UInt64: @Sendable () -> Void] = [:]
        var lastWait: UInt64 = 0
    }

    public init(deadline: ContinuousClock.Instant) {
        self.deadline = deadline
    }

    /// True once ``finish()`` ran: the timer has nothing left to cut.
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// The deadline passed: cuts short every wait in progress; later waits fail at once. Nothing
    /// once the work has finished.
    public func expire() {
        let cuts = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.expired, !state.finished else { return [] }
            state.expired = true
            defer { state.waits = [:] }
            return Array(state.waits.values)
        }
        for cut in cuts { cut() }
    }

    /// The work is done; returns whether the deadline had cut it short first.
    public func finish() -> Bool {
        state.withLock { state in
            state.finished = true
            state.waits = [:]
            return state.expired
        }
    }

    /// Registers how to cut a wait short; nil if the deadline already passed (the wait must not
    /// start).
    func enter(_ cut: @escaping @Sendable () -> Void) -> UInt64? {
        state.withLock { state in
            guard !state.expired else { return nil }
            state.lastWait &+= 1
            state.waits[state.lastWait] = cut
            return state.lastWait
        }
    }

    func leave(_ wait: UInt64) {
        _ = state.withLock { $0.waits.removeValue(forKey: wait) }
    }

    /// Runs `body` (which starts tasks that outlive the current request: writers, shared fetches)
    /// outside any request's deadline, so those tasks' waits are not cut at that request's deadline.
    public static func outsideAnyRequest<T>(_ body: () throws -> T) rethrows -> T {
        try $current.withValue(nil, operation: body)
    }
}

/// A wait was cut short by its request's deadline (``DeadlineScope``).
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the request's deadline passed" }
}
