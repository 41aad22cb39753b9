import Synchronization
import Testing
import WorkDeadline
@testable import WorkerApp

/// The request deadline answers with the work's result when it is ready, and otherwise cuts short
/// the wait the work is in and answers nil — for each request on its own, however many share the
/// one timer; tasks started outside the request are not cut.
struct RequestDeadlineTests {
    @Test func workReadyInTimeIsAnswered() async {
        let value = await RequestDeadline(limit: .seconds(10)).run { 42 }
        #expect(value == 42)
    }

    @Test func aWaitPastTheDeadlineIsCutShortAndTheAnswerIsNil() async throws {
        let cut = Flag()
        let value: Int? = await RequestDeadline(limit: .milliseconds(100)).run {
            await Self.waitUntilCut(setting: cut)
        }
        #expect(value == nil)
        #expect(cut.isSet)
    }

    /// Work busy past its deadline (no wait to cut) is not answered with its late result, and the
    /// wait it starts afterwards ends at once.
    @Test func workThatOverrunsItsDeadlineBetweenWaitsIsAnsweredNil() async throws {
        let cut = Flag()
        let value: Int? = await RequestDeadline(limit: .milliseconds(50)).run {
            try? await Task.sleep(for: .milliseconds(400))   // not a deadline-bound wait
            return await Self.waitUntilCut(setting: cut)
        }
        #expect(value == nil)
        #expect(cut.isSet)
    }

    /// Quick and stuck requests interleaved on one deadline: each quick one gets its value, each
    /// stuck one nil, its wait cut; after the timer ran out of work, a new stuck request still
    /// expires (the timer starts again).
    @Test func requestsSharingTheTimerEachGetTheirOwnOutcome() async throws {
        // Long enough that a quick request is answered before it even on a loaded 2-core box
        // under ThreadSanitizer (200 ms was not: the quick ones got nil).
        let deadline = RequestDeadline(limit: .seconds(2))
        let flags = (0..<6).map { _ in Flag() }
        let outcomes = await withTaskGroup(of: (Int, Int?).self) { group in
            for index in 0..<12 {
                group.addTask {
                    let value = await deadline.run {
                        index.isMultiple(of: 2) ? await Self.waitUntilCut(setting: flags[index / 2]) : index
                    }
                    return (index, value)
                }
            }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<12 {
            #expect(outcomes[index] == (index.isMultiple(of: 2) ? Int?.none : index))
        }
        for flag in flags { #expect(flag.isSet) }

        let late = Flag()
        let value = await deadline.run { await Self.waitUntilCut(setting: late) }
        #expect(value == nil)
        #expect(late.isSet)
    }

    /// A task the work starts outside the request (a writer, a shared fetch) outlives the deadline:
    /// its wait is not cut.
    @Test func tasksStartedOutsideTheRequestAreNotCut() async throws {
        let release = Gate()
        var background: Task<Int, any Error>?
        let value: Int? = await RequestDeadline(limit: .milliseconds(100)).run {
            background = DeadlineScope.outsideAnyRequest { Task { try await release.wait() } }
            return await Self.waitUntilCut(setting: Flag())
        }
        #expect(value == nil)
        release.open(7)
        #expect(try await background?.value == 7)
    }

    /// Requests that finish behind one still under way leave the timer's queue: it holds the
    /// requests in flight, not every request since the oldest unfinished one (found by review:
    /// one slow request kept every later request's scope until its own deadline).
    @Test func finishedRequestsBehindASlowOneAreNotKept() async throws {
        let deadline = RequestDeadline(limit: .seconds(60))
        let release = Gate()
        let (entered, enter) = AsyncStream.makeStream(of: Void.self)
        async let slow = deadline.run {
            enter.yield()
            return try? await release.wait()
        }
        for await _ in entered { break }
        for index in 0..<10_000 {
            #expect(await deadline.run { index } == index)
        }
        #expect(deadline.pendingCount == 1)
        release.open(7)
        #expect(await slow == 7)
        #expect(deadline.pendingCount == 0)
    }

    /// Waits in a deadline-bound wait nothing else ends; sets `flag` when the deadline cuts it.
    private static func waitUntilCut(setting flag: Flag) async -> Int {
        do {
            let _: Int = try await DeadlineScope.wait { _ in }
        } catch {
            if error is DeadlineExceeded { flag.value.store(true, ordering: .relaxed) }
        }
        return -1
    }
}

/// A flag the cut wait sets.
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// A deadline-bound wait that ends when the test opens it.
private final class Gate: Sendable {
    private let waiter = Mutex<(FirstResume<Int>?, Int?)>((nil, nil))

    func wait() async throws -> Int {
        try await DeadlineScope.wait { resume in
            let opened = waiter.withLock { state -> Int? in
                if state.1 == nil { state.0 = resume }
                return state.1
            }
            if let opened { resume.resume(returning: opened) }
        }
    }

    func open(_ value: Int) {
        let resume = waiter.withLock { state -> FirstResume<Int>? in
            state.1 = value
            return state.0
        }
        resume?.resume(returning: value)
    }
}
