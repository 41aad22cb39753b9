import Dispatch
@testable import Federation
import Foundation
import Synchronization
import Testing

/// Blocking look-ups run on threads of their own, a bounded number of them: a resolver that does
/// not answer (for names a remote server chose) holds only those threads, never the threads Swift
/// tasks run on.
struct LookUpThreadsTests {
    /// Look-ups that block until released (or 10 s), counting how many started and ended.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        private let counts = Mutex((started: 0, ended: 0))

        var started: Int { counts.withLock { $0.started } }
        var ended: Int { counts.withLock { $0.ended } }

        /// Blocks the calling thread until ``release(_:)`` lets it through, or 10 s.
        func pass<T>(returning value: T) -> T {
            counts.withLock { $0.started += 1 }
            _ = semaphore.wait(timeout: .now() + 10)
            counts.withLock { $0.ended += 1 }
            return value
        }

        func release(_ count: Int) {
            for _ in 0..<count { semaphore.signal() }
        }

        /// Waits (yielding) until `count` look-ups have started.
        func waitUntilStarted(_ count: Int) async {
            while started < count { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// Values recorded from several threads.
    final class Recorded<Value: Sendable>: Sendable {
        private let values: Mutex<[Value]> = Mutex([])
        var all: [Value] { values.withLock { $0 } }
        func record(_ value: Value) { values.withLock { $0.append(value) } }
    }

    /// The calling thread's name. Dispatch names its worker threads after the root queue they
    /// serve (`com.apple.root.default-qos`, `….default-qos.overcommit`; the kernel keeps 15
    /// bytes), so threads of one pool share a name.
    static func threadName() -> String {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "unknown"
    }

    @Test func aBlockingLookUpIsAbandonedAtItsTimeout() async {
        let threads = LookUpThreads(threadCount: 1, maximumWaiting: 1)
        let gate = Gate()
        let answer = await threads.run(timeout: .milliseconds(200), fallback: [0]) { gate.pass(returning: [1]) }
        #expect(answer == [0])
        #expect(gate.ended == 0, "the caller waited for the look-up")
        gate.release(1)
    }

    /// A concurrent Dispatch queue — where look-ups ran before — draws its threads from the pool
    /// Swift's tasks run on (Linux): blocked look-ups there stalled every task of the process.
    @Test func lookUpsRunOnThreadsOfAnotherPoolThanSwiftTasks() async {
        let threads = LookUpThreads(threadCount: 4, maximumWaiting: 8)
        let lookUpThreadNames = Recorded<String>()
        let gate = Gate()
        await withTaskGroup(of: Void.self) { lookUps in
            for _ in 0..<4 {
                lookUps.addTask {
                    _ = await threads.run(timeout: .seconds(30), fallback: 0) {
                        lookUpThreadNames.record(Self.threadName())
                        return gate.pass(returning: 1)
                    }
                }
            }
            await gate.waitUntilStarted(4)
            // Every look-up thread is blocked; tasks still run, each on a thread of Swift's pool.
            let taskThreadNames = await withTaskGroup(of: String.self, returning: Set<String>.self) { tasks in
                for _ in 0..<64 { tasks.addTask { Self.threadName() } }
                return await tasks.reduce(into: []) { $0.insert($1) }
            }
            #expect(gate.ended == 0, "the tasks ran only once the look-ups ended")
            gate.release(4)
            await lookUps.waitForAll()
            #expect(lookUpThreadNames.all.count == 4)
            #expect(Set(lookUpThreadNames.all).isDisjoint(with: taskThreadNames), "\(lookUpThreadNames.all) \(taskThreadNames)")
        }
    }

    @Test func atMostTheThreadCountRunAtOnceTheRestWaitInOrderAndTheLineIsBounded() async {
        let threads = LookUpThreads(threadCount: 2, maximumWaiting: 1)
        let gate = Gate()
        await withTaskGroup(of: Int.self) { lookUps in
            for answer in 1...3 {
                lookUps.addTask { await threads.run(timeout: .seconds(30), fallback: 0) { gate.pass(returning: answer) } }
            }
            await gate.waitUntilStarted(2)
            // Two run, one waits: a fourth finds the line full and is answered at once.
            while threads.waitingCount < 1 { try? await Task.sleep(for: .milliseconds(5)) }
            let refused = await threads.run(timeout: .seconds(30), fallback: -1) { gate.pass(returning: 4) }
            #expect(refused == -1)
            #expect(gate.ended == 0 && gate.started == 2)
            gate.release(3)
            let answers = await lookUps.reduce(into: []) { $0.append($1) }
            #expect(answers.sorted() == [1, 2, 3])
        }
        #expect(threads.mostRunning == 2)
    }

    @Test func aWaitingLookUpWhoseTimeIsUpNeverRuns() async {
        let threads = LookUpThreads(threadCount: 1, maximumWaiting: 4)
        let gate = Gate()
        let ranLate = Recorded<Int>()
        async let first = threads.run(timeout: .seconds(30), fallback: 0) { gate.pass(returning: 1) }
        await gate.waitUntilStarted(1)
        let late = await threads.run(timeout: .milliseconds(100), fallback: 0) {
            ranLate.record(2)
            return 2
        }
        #expect(late == 0)
        gate.release(1)
        #expect(await first == 1)
        // The thread is free again, and a look-up after it ran: the withdrawn one would have run first.
        #expect(await threads.run(timeout: .seconds(30), fallback: 0) { 3 } == 3)
        #expect(ranLate.all.isEmpty)
        #expect(threads.waitingCount == 0)
    }
}
