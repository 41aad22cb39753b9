import Dispatch
@testable import Federation
import Synchronization
import Testing

/// Timeouts that hold even when the work under them does not stop when cancelled (a look-up
/// blocked in the system resolver): the caller is answered at the timeout, while the work is
/// still blocked — each test releases it only afterwards (and at most 10 s later on its own).
struct DeadlineTests {
    /// A blocked call and whether it has ended.
    final class BlockedCall: Sendable {
        private let gate = DispatchSemaphore(value: 0)
        private let ended = Atomic<Bool>(false)

        var hasEnded: Bool { ended.load(ordering: .sequentiallyConsistent) }

        /// Blocks the calling (Dispatch) thread until ``release()``, or 10 s.
        func block() {
            _ = gate.wait(timeout: .now() + 10)
            ended.store(true, ordering: .sequentiallyConsistent)
        }

        /// Waits on a Dispatch thread of its own (a serial queue's: a global queue's thread would
        /// be one of Swift's task threads), ignoring cancellation.
        func await() async {
            await withCheckedContinuation { continuation in
                DispatchQueue(label: "blocked-call").async {
                    self.block()
                    continuation.resume()
                }
            }
        }

        func release() { gate.signal() }
    }

    @Test func withDeadlineAnswersAtTheTimeoutWhileTheOperationStillRuns() async throws {
        let call = BlockedCall()
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200)) { await call.await() }
        }
        #expect(!call.hasEnded, "withDeadline waited for the operation")
        call.release()
        #expect(try await withDeadline(.seconds(10)) { 42 } == 42)
    }

    /// The send's timeout covers server discovery: here the `.well-known` host's resolution blocks.
    @Test func aSendsTimeoutCoversServerDiscovery() async throws {
        let call = BlockedCall()
        let connector = OutboundConnector(resolver: HostResolver { _ in
            await call.await()
            return []
        })
        let transport = FederationTransport(destinations: FederationDestinations(
            overrides: try FederationOverrides.parse(""), timeout: .seconds(10), connector: connector))
        await #expect(throws: FederationRequestError.timedOut(server: "slow.test")) {
            try await transport.send(method: "GET", to: "slow.test", target: "/_matrix/key/v2/server", timeout: .milliseconds(300))
        }
        #expect(!call.hasEnded, "the send waited for discovery")
        call.release()
        try await transport.destinations.shutdown()
    }

    /// Discovery abandoned at a send's timeout remembers nothing of the server: its `.well-known`
    /// fetch failed only because it was cut short (it was recorded as the host's failure, and the
    /// undelegated destination cached for the failure's lifetime — minutes to an hour).
    @Test func discoveryCutShortByASendsTimeoutRemembersNothing() async throws {
        let call = BlockedCall()
        let resolutions = Atomic<Int>(0)
        let connector = OutboundConnector(resolver: HostResolver { _ in
            if resolutions.add(1, ordering: .sequentiallyConsistent).newValue == 1 { await call.await() }
            return []
        })
        let destinations = FederationDestinations(
            overrides: try FederationOverrides.parse(""), timeout: .seconds(10), connector: connector)
        let transport = FederationTransport(destinations: destinations)
        await #expect(throws: FederationRequestError.timedOut(server: "slow.test")) {
            try await transport.send(method: "GET", to: "slow.test", target: "/_matrix/key/v2/server", timeout: .milliseconds(300))
        }
        call.release()
        // The abandoned discovery ends on its own (its fetch fails at once now); give it time to.
        try await Task.sleep(for: .seconds(1))
        // Discovering the server again fetches its `.well-known` again (resolving its host).
        _ = try await destinations.destination(for: "slow.test")
        #expect(resolutions.load(ordering: .sequentiallyConsistent) == 2)
        try await destinations.shutdown()
    }
}
