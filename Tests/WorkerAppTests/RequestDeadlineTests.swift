import Synchronization
import Testing
@testable import WorkerApp

/// The request deadline answers with the work's result when it is ready, and otherwise gives up
/// and cancels the work — for each request on its own, however many share the one timer.
struct RequestDeadlineTests {
    @Test func workReadyInTimeIsAnswered() async {
        let value = await RequestDeadline(limit: .seconds(10)).run { 42 }
        #expect(value == 42)
    }

    @Test func workPastTheDeadlineIsAbandonedAndCancelled() async throws {
        let cancelled = Flag()
        let value: Int? = await RequestDeadline(limit: .milliseconds(100)).run {
            await Self.sleepUntilCancelled(setting: cancelled)
        }
        #expect(value == nil)
        try await Self.waitFor(cancelled)
    }

    /// Quick and stuck requests interleaved on one deadline: each quick one gets its value, each
    /// stuck one nil and its cancellation; after the timer ran out of work, a new stuck request
    /// still expires (the timer starts again).
    @Test func requestsSharingTheTimerEachGetTheirOwnOutcome() async throws {
        // Long enough that a quick request is answered before it even on a loaded 2-core box
        // under ThreadSanitizer (200 ms was not: the quick ones got nil).
        let deadline = RequestDeadline(limit: .seconds(2))
        let flags = (0..<6).map { _ in Flag() }
        let outcomes = await withTaskGroup(of: (Int, Int?).self) { group in
            for index in 0..<12 {
                group.addTask {
                    let value = await deadline.run {
                        index.isMultiple(of: 2) ? await Self.sleepUntilCancelled(setting: flags[index / 2]) : index
                    }
                    return (index, value)
                }
            }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<12 {
            #expect(outcomes[index] == (index.isMultiple(of: 2) ? Int?.none : index))
        }
        for flag in flags { try await Self.waitFor(flag) }

        let late = Flag()
        let value = await deadline.run { await Self.sleepUntilCancelled(setting: late) }
        #expect(value == nil)
        try await Self.waitFor(late)
    }

    /// Work that only ends when cancelled, then sets `flag`.
    private static func sleepUntilCancelled(setting flag: Flag) async -> Int {
        do {
            try await Task.sleep(for: .seconds(60))
        } catch {
            flag.value.store(true, ordering: .relaxed)
        }
        return -1
    }

    private static func waitFor(_ flag: Flag) async throws {
        for _ in 0..<100 where !flag.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(50)) }
        let set = flag.value.load(ordering: .relaxed)
        #expect(set)
    }
}

/// A flag the abandoned work sets when it sees its cancellation.
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
