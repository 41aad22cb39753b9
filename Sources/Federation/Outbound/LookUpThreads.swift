import Dispatch
import Synchronization
import WorkDeadline

/// Where blocking system look-ups (`getaddrinfo`, `res_query`) run: a fixed number of threads of
/// their own, never those of Swift concurrency or of an event loop.
///
/// A concurrent Dispatch queue will not do on Linux: it draws its threads from the same root queue
/// as Swift concurrency's global executor (`com.apple.root.default-qos`, as many threads as
/// cores), and Dispatch adds threads to it only slowly when they block. The names looked up are
/// chosen by remote servers (every X-Matrix origin whose keys are fetched, every destination of a
/// room), so a resolver that does not answer for them — theirs or ours — blocked those threads, and
/// every task of the process stalled (measured: 64 blocked look-ups held all tasks 23 s). Here each
/// look-up runs alone on one of ``threadCount`` serial queues (each served by a thread of
/// Dispatch's overcommit pool, which the concurrency runtime does not use); when all are busy,
/// look-ups wait in order, each at most its timeout, and at most ``maximumWaiting`` wait (more
/// answer their fallback at once). A look-up abandoned at its timeout keeps its thread until the
/// resolver gives up; its place is taken by the next only then.
///
/// Three pools, so that names anyone can choose never hold the threads others need: ``destinations``
/// for the federation sender's deliveries (room destinations, which a remote cannot add at will),
/// ``newcomers`` for key fetches from servers without stored keys, ``shared`` for the rest.
public final class LookUpThreads: Sendable {
    /// The process's look-up threads for whatever no caller bound elsewhere (known servers' key
    /// fetches, their `.well-known` and SRV look-ups). Address and SRV look-ups share them.
    static let shared = LookUpThreads(threadCount: 32, maximumWaiting: 4_096)

    /// The look-up threads of the federation sender's deliveries, apart from ``shared``: one
    /// successful key fetch makes any origin a known server, so names an attacker mints could
    /// otherwise fill ``shared`` with look-ups a silent resolver never answers and starve the
    /// destinations of rooms. As many threads as the sender's default concurrent destinations.
    public static let destinations = LookUpThreads(
        threadCount: 32, maximumWaiting: 4_096, label: "leave-worker.look-up.destination")

    /// The look-up threads of key fetches from servers without stored keys (``KeyFetcher``'s
    /// newcomers), apart from ``shared``: an unauthenticated request may name any origin, and a
    /// resolver that never answers for names made up by the thousand would otherwise hold every
    /// thread the look-ups of known servers need (each abandoned look-up keeps
    /// its thread for the resolver's own retries, 10–30 s).
    static let newcomers = LookUpThreads(threadCount: 8, maximumWaiting: 1_024, label: "leave-worker.look-up.newcomer")

    /// The threads the running task's look-ups use: ``shared``, or what a caller bound for the
    /// look-ups it makes (``destinations`` for the sender's deliveries, ``newcomers`` for a
    /// newcomer's key fetch).
    @TaskLocal public static var current: LookUpThreads = .shared

    let threadCount: Int
    let maximumWaiting: Int
    private let queues: [DispatchQueue]
    private let state: Mutex<State>

    private struct State {
        /// Queues with no look-up on them.
        var idle: [Int]
        /// Look-ups waiting for a queue, oldest first, by ticket.
        var waiting: [(ticket: UInt64, start: @Sendable (Int) -> Void)] = []
        var nextTicket: UInt64 = 0
        /// The most look-ups that ran at once.
        var mostRunning = 0
    }

    private enum Admission {
        case start(Int)
        case wait
        case refuse
    }

    init(threadCount: Int, maximumWaiting: Int, label: String = "leave-worker.look-up") {
        precondition(threadCount > 0 && maximumWaiting >= 0)
        self.threadCount = threadCount
        self.maximumWaiting = maximumWaiting
        queues = (0..<threadCount).map { DispatchQueue(label: "\(label).\($0)") }
        state = Mutex(State(idle: Array((0..<threadCount).reversed())))
    }

    /// The most look-ups that have run at once since this was made.
    var mostRunning: Int { state.withLock { $0.mostRunning } }

    /// Look-ups waiting for a thread now.
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Runs `lookUp` on a look-up thread and answers with its result, or with `fallback` when
    /// `timeout` passes first (waiting included), too many wait or the calling task is cancelled;
    /// a look-up still running then finishes on its own, ignored.
    func run<T: Sendable>(timeout: Duration, fallback: T, _ lookUp: @escaping @Sendable () -> T) async -> T {
        // A caller already given up on (a send past its timeout) starts no look-up.
        if Task.isCancelled { return fallback }
        // Nothing throws: the look-up, the timer and a full waiting line all answer.
        return (try? await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let pending = FirstResume(continuation)
            let ticket = state.withLock { state in
                defer { state.nextTicket &+= 1 }
                return state.nextTicket
            }
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                withdraw(ticket)
                pending.resume(returning: fallback)
            }
            let start: @Sendable (Int) -> Void = { [queues] index in
                queues[index].async {
                    let answer = lookUp()
                    timer.cancel()
                    pending.resume(returning: answer)
                    self.finished(on: index)
                }
            }
            let admission = state.withLock { state -> Admission in
                if let index = state.idle.popLast() {
                    state.mostRunning = max(state.mostRunning, threadCount - state.idle.count)
                    return .start(index)
                }
                guard state.waiting.count < maximumWaiting else { return .refuse }
                state.waiting.append((ticket, start))
                return .wait
            }
            switch admission {
            case .start(let index): start(index)
            case .wait: break
            case .refuse:
                timer.cancel()
                pending.resume(returning: fallback)
            }
        }) ?? fallback
    }

    /// Queue `index` is free: the oldest waiting look-up starts on it, or it becomes idle.
    private func finished(on index: Int) {
        let next = state.withLock { state -> (@Sendable (Int) -> Void)? in
            guard !state.waiting.isEmpty else {
                state.idle.append(index)
                return nil
            }
            return state.waiting.removeFirst().start
        }
        next?(index)
    }

    /// A waiting look-up whose time is up leaves the line (one already started runs on).
    private func withdraw(_ ticket: UInt64) {
        state.withLock { state in
            if let position = state.waiting.firstIndex(where: { $0.ticket == ticket }) {
                state.waiting.remove(at: position)
            }
        }
    }
}
