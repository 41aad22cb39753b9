import Dispatch
@testable import Postgres
import XCTest

/// The pool's decisions without sockets, queues or sleeping: events in, actions out.
final class PoolStateMachineTests: XCTestCase {
    private let t0 = DispatchTime(uptimeNanoseconds: 1_000_000_000)
    private func at(_ milliseconds: UInt64) -> DispatchTime {
        DispatchTime(uptimeNanoseconds: t0.uptimeNanoseconds + milliseconds * 1_000_000)
    }
    private let refused = PostgresError(kind: .connectionFailed, message: "connection refused")

    private func failures(_ actions: PoolStateMachine.Actions) -> [String] {
        actions.fail.map { "\($0.request):\($0.failure)" }
    }

    func testFreeSlotsAreLentAtOnceWarmOnesFirst() {
        var machine = PoolStateMachine(size: 3)
        XCTAssertEqual(machine.leaseRequested(1, deadline: at(100)).run?.slot, 0, "unconnected slots in index order")
        XCTAssertEqual(machine.leaseRequested(2, deadline: at(100)).run?.slot, 1)
        _ = machine.released(1, .open)
        _ = machine.released(0, .open)
        XCTAssertEqual(machine.leaseRequested(3, deadline: at(100)).run?.slot, 0, "the most recently returned connection")
        XCTAssertEqual(machine.leaseRequested(4, deadline: at(100)).run?.slot, 1, "then the other warm one, before slot 2 connects")
        XCTAssertEqual(machine.statistics, PoolStatistics(size: 3, open: 2, inUse: 2, idle: 1, waiting: 0))
    }

    func testReleasedSlotIsHandedToWaitersInArrivalOrder() {
        var machine = PoolStateMachine(size: 1)
        XCTAssertNotNil(machine.leaseRequested(1, deadline: at(100)).run)
        let queued = machine.leaseRequested(2, deadline: at(100))
        XCTAssertNil(queued.run)
        XCTAssertEqual(queued.scheduleExpiry, at(100), "the first waiter sets the expiry timer")
        XCTAssertNil(machine.leaseRequested(3, deadline: at(110)).scheduleExpiry, "one timer covers later waiters")
        XCTAssertNil(machine.leaseRequested(4, deadline: at(120)).run)
        XCTAssertEqual(machine.statistics.waiting, 3)

        for expected: UInt64 in [2, 3, 4] {
            let handOff = machine.released(0, .open)
            XCTAssertEqual(handOff.run?.request, expected)
            XCTAssertEqual(handOff.run?.slot, 0)
        }
        XCTAssertNil(machine.released(0, .open).run)
        XCTAssertEqual(machine.statistics, PoolStatistics(size: 1, open: 1, inUse: 0, idle: 1, waiting: 0))
    }

    func testWaitersPastTheirDeadlineTimeOutAndTheTimerMovesOn() {
        var machine = PoolStateMachine(size: 1)
        _ = machine.leaseRequested(1, deadline: at(100))
        _ = machine.leaseRequested(2, deadline: at(100))
        _ = machine.leaseRequested(3, deadline: at(250))
        let early = machine.expiryTimerFired(now: at(99))
        XCTAssertEqual(failures(early), [], "nobody's deadline passed yet")
        XCTAssertEqual(early.scheduleExpiry, at(100))
        let fired = machine.expiryTimerFired(now: at(100))
        XCTAssertEqual(failures(fired), ["2:timedOut"])
        XCTAssertEqual(fired.scheduleExpiry, at(250), "then the next waiter's deadline")
        XCTAssertEqual(machine.released(0, .open).run?.request, 3, "a waiter within its deadline is served")
        let idle = machine.expiryTimerFired(now: at(300))
        XCTAssertEqual(failures(idle), [])
        XCTAssertNil(idle.scheduleExpiry, "no waiter: no timer")
        XCTAssertEqual(machine.leaseRequested(4, deadline: at(400)).scheduleExpiry, at(400), "slot 0 is lent to 3: a new timer")
        XCTAssertEqual(machine.statistics.waiting, 1)
    }

    func testCancellationBeforeTheHandOffFailsTheWaiterAndAfterItChangesNothing() {
        var machine = PoolStateMachine(size: 1)
        _ = machine.leaseRequested(1, deadline: at(100))
        _ = machine.leaseRequested(2, deadline: at(100))
        _ = machine.leaseRequested(3, deadline: at(100))
        XCTAssertEqual(failures(machine.cancelled(2)), ["2:cancelled"])
        XCTAssertEqual(failures(machine.cancelled(2)), [], "only once")
        XCTAssertEqual(machine.released(0, .open).run?.request, 3, "the cancelled waiter is skipped")
        XCTAssertEqual(failures(machine.cancelled(3)), [], "lent already: it runs to the end")
        XCTAssertEqual(failures(machine.cancelled(99)), [], "unknown requests are ignored")
        XCTAssertEqual(machine.statistics.inUse, 1)
        XCTAssertEqual(failures(machine.expiryTimerFired(now: at(200))), [])
    }

    func testABrokenConnectionIsReconnectedByTheNextBorrowerWithoutBackOff() {
        var machine = PoolStateMachine(size: 1)
        _ = machine.leaseRequested(1, deadline: at(100))
        _ = machine.leaseRequested(2, deadline: at(100))
        let handOff = machine.released(0, .broken)
        XCTAssertEqual(handOff.run?.request, 2)
        XCTAssertNil(handOff.scheduleBackoff)
        XCTAssertEqual(machine.statistics.open, 0)
    }

    func testAFailedConnectBacksOffDoublingAndWaitersFailWhenNothingCanServeThem() throws {
        var machine = PoolStateMachine(size: 1, firstBackoff: .milliseconds(100), maximumBackoff: .milliseconds(300))
        _ = machine.leaseRequested(1, deadline: at(1_000))
        _ = machine.leaseRequested(2, deadline: at(1_000))
        let failed = machine.released(0, .connectFailed(refused))
        XCTAssertNil(failed.run, "a backing-off slot is handed to nobody")
        XCTAssertEqual(failed.scheduleBackoff?.slot, 0)
        XCTAssertEqual(failed.scheduleBackoff?.delay, .milliseconds(100))
        XCTAssertEqual(failures(failed).count, 1, "nothing else can serve the waiter: it fails now")
        guard case .unreachable(let error) = try XCTUnwrap(failed.fail.first).failure else { return XCTFail("\(failed.fail)") }
        XCTAssertEqual(error.kind, .connectionFailed)

        XCTAssertEqual(failures(machine.leaseRequested(3, deadline: at(1_000))).count, 1, "during the back-off: fail fast")
        XCTAssertNil(machine.backoffEnded(slot: 0).run)
        XCTAssertEqual(machine.leaseRequested(4, deadline: at(1_000)).run?.slot, 0, "after it: connect again")
        XCTAssertEqual(machine.released(0, .connectFailed(refused)).scheduleBackoff?.delay, .milliseconds(200))
        _ = machine.backoffEnded(slot: 0)
        _ = machine.leaseRequested(5, deadline: at(1_000))
        XCTAssertEqual(machine.released(0, .connectFailed(refused)).scheduleBackoff?.delay, .milliseconds(300), "capped")
        _ = machine.backoffEnded(slot: 0)
        _ = machine.leaseRequested(6, deadline: at(1_000))
        _ = machine.released(0, .open)
        _ = machine.leaseRequested(7, deadline: at(1_000))
        XCTAssertEqual(machine.released(0, .connectFailed(refused)).scheduleBackoff?.delay, .milliseconds(100),
                       "a successful connect resets the back-off")
    }

    func testWhileOneSlotBacksOffWaitersWaitForTheOthersAndForTheBackOffToEnd() {
        var machine = PoolStateMachine(size: 2)
        _ = machine.leaseRequested(1, deadline: at(1_000))
        _ = machine.leaseRequested(2, deadline: at(1_000))
        _ = machine.leaseRequested(3, deadline: at(1_000))
        _ = machine.leaseRequested(4, deadline: at(1_000))
        let failed = machine.released(0, .connectFailed(refused))
        XCTAssertEqual(failures(failed), [], "slot 1 is still lent: the waiters keep waiting")
        XCTAssertEqual(machine.backoffEnded(slot: 0).run?.request, 3, "the back-off's end serves the first waiter")
        XCTAssertEqual(machine.released(1, .open).run?.request, 4)
        XCTAssertNil(machine.backoffEnded(slot: 0).run, "a stale timer changes nothing")
        XCTAssertEqual(machine.statistics.inUse, 2)
    }

    func testShutdownFailsWaitersRefusesNewRequestsAndClosesOnceQuiet() {
        var machine = PoolStateMachine(size: 2)
        _ = machine.leaseRequested(1, deadline: at(100))
        _ = machine.leaseRequested(2, deadline: at(100))
        _ = machine.leaseRequested(3, deadline: at(100))
        _ = machine.leaseRequested(4, deadline: at(100))
        let shutdown = machine.shutdown()
        XCTAssertEqual(failures(shutdown), ["3:closed", "4:closed"])
        XCTAssertFalse(shutdown.closeConnections, "two connections are still lent")
        XCTAssertEqual(failures(machine.leaseRequested(5, deadline: at(100))), ["5:closed"])
        let first = machine.released(0, .open)
        XCTAssertNil(first.run)
        XCTAssertFalse(first.closeConnections)
        XCTAssertTrue(machine.released(1, .open).closeConnections, "the last one back: close everything")
        machine.connectionsClosed()
        XCTAssertEqual(machine.statistics, PoolStatistics(size: 2, open: 0, inUse: 0, idle: 2, waiting: 0))
        var idle = PoolStateMachine(size: 1)
        XCTAssertTrue(idle.shutdown().closeConnections, "an idle pool closes at once")
    }
}
