import Synchronization
import Testing
@testable import WorkerApp

/// The request deadline answers with the work's result when it is ready, and otherwise gives up
/// and cancels the work.
struct RequestDeadlineTests {
    @Test func workReadyInTimeIsAnswered() async {
        let value = await RequestDeadline.run(within: .seconds(10)) { 42 }
        #expect(value == 42)
    }

    @Test func workPastTheDeadlineIsAbandonedAndCancelled() async throws {
        let cancelled = Flag()
        let value: Int? = await RequestDeadline.run(within: .milliseconds(100)) {
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.value.store(true, ordering: .relaxed)
            }
            return 1
        }
        #expect(value == nil)
        for _ in 0..<100 where !cancelled.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(50)) }
        let wasCancelled = cancelled.value.load(ordering: .relaxed)
        #expect(wasCancelled)
    }
}

/// A flag the abandoned work sets when it sees its cancellation.
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
