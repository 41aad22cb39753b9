@testable import Forwarding
import Testing

struct WaitingDestinationsTests {
    @Test func healthyDestinationsGoFirstEachLineInTheOrderFoundAndNoneTwice() {
        var waiting = WaitingDestinations()
        waiting.append("failing-1.test", failing: true)
        waiting.append("healthy-1.test", failing: false)
        waiting.append("failing-2.test", failing: true)
        waiting.append("healthy-1.test", failing: true)  // waiting already: stays where it is
        waiting.append("healthy-2.test", failing: false)
        #expect(waiting.contains("failing-2.test"))
        #expect(waiting.removeFirst(3) == ["healthy-1.test", "healthy-2.test", "failing-1.test"])
        #expect(!waiting.contains("healthy-1.test"))
        waiting.append("healthy-3.test", failing: false)
        #expect(waiting.removeFirst(0).isEmpty)
        #expect(waiting.removeFirst(-1).isEmpty)
        #expect(waiting.removeFirst(5) == ["healthy-3.test", "failing-2.test"])
        #expect(waiting.isEmpty)
    }
}
