import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Forwarding end to end: real `leave-worker serve` processes (their senders on), a real Postgres,
/// and simulated a.test, b.test and c.test recording the transactions they receive. Every leave
/// comes from a.test, so it must reach b.test and c.test — and neither a.test nor ourselves.
struct ForwardingProcessTests {
    @Test func aLeaveReachesTheOtherServersExactlyOnceAndNotTheOriginOrOurselves() async throws {
        let fixture = try await ForwardingFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try await fixture.importRoom(leavers: ["@alice:a.test"])

        let eventID = try await fixture.leave("@alice:a.test", room: room, through: worker)
        let delay = await waitUntil(timeout: .seconds(10)) {
            fixture.b.receivedEventCounts[eventID] != nil && fixture.c.receivedEventCounts[eventID] != nil
        }
        let measured = try #require(delay, "b.test and c.test did not both receive the leave within 10 s")
        print("forwarding: send_leave answered → received by b.test and c.test in \(measured)")
        #expect(measured < .seconds(3))

        try await Task.sleep(for: .milliseconds(800))   // time for a duplicate to show up, if one were coming
        #expect(fixture.b.receivedEventCounts == [eventID: 1])
        #expect(fixture.c.receivedEventCounts == [eventID: 1])
        #expect(fixture.a.transactionCount == 0)
        #expect(fixture.ourselves.transactionCount == 0)
        #expect(try await fixture.backlog() == 0)
        let metrics = try await fixture.metrics(of: worker)
        #expect(metrics.contains("leave_worker_forwarding_deliveries_total 2"), "\(metrics)")
        #expect(metrics.contains("leave_worker_forwarding_transactions_total 2"))
        #expect(metrics.contains("leave_worker_forwarding_backlog_events "))
        #expect(metrics.contains("leave_worker_forwarding_oldest_pending_seconds "))
        await worker.stopWithoutBlocking()

        // Signed by us (X-Matrix, checked by the receiver), and the PDU is the stored leave with both signatures.
        for server in [fixture.b, fixture.c] {
            let transaction = try #require(server.receivedTransactions.first)
            #expect(transaction.origin == ForwardingFixture.serverName)
            #expect(transaction.isAuthenticated)
            let pdu = Redaction.redact(try #require(transaction.pdus.first), version: ForwardingFixture.roomVersion)
            #expect(JSONSigning.verify(pdu, entity: ForwardingFixture.serverName, keyID: fixture.residentKey.keyID,
                                       publicKey: fixture.residentKey.publicKey))
            #expect(JSONSigning.verify(pdu, entity: "a.test", keyID: fixture.a.signingKey.keyID,
                                       publicKey: fixture.a.signingKey.publicKey))
        }
        await fixture.shutdown()
    }

    @Test func aDestinationDownDuringTheLeaveGetsItAfterRecoveryWithoutDelayingTheOthers() async throws {
        let fixture = try await ForwardingFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try await fixture.importRoom(leavers: ["@alice:a.test"])
        await fixture.b.stop()

        let clock = ContinuousClock()
        let eventID = try await fixture.leave("@alice:a.test", room: room, through: worker)
        let leftAt = clock.now
        let toC = await waitUntil(timeout: .seconds(5)) { fixture.c.receivedEventCounts[eventID] != nil }
        #expect(toC != nil && toC! < .seconds(3), "c.test waited for the failing b.test: \(String(describing: toC))")
        let backedOff = await waitUntil(timeout: .seconds(5)) { (try? await fixture.backoff("b.test"))?.failures ?? 0 >= 1 }
        #expect(backedOff != nil, "no failure recorded for b.test")

        try await Task.sleep(until: leftAt + .seconds(10), clock: clock)
        #expect(fixture.b.transactionCount == 0)
        try await fixture.b.start()
        let recovery = await waitUntil(timeout: .seconds(10)) { fixture.b.receivedEventCounts[eventID] != nil }
        let measured = try #require(recovery, "b.test did not get the leave within 10 s of coming back")
        print("forwarding: b.test back after 10 s → received the leave \(measured) later")
        #expect(measured < .seconds(3))   // back-off bounded at 1 s here, poll 200 ms

        let settled = await waitUntil(timeout: .seconds(3)) { (try? await fixture.backlog()) == 0 }
        #expect(settled != nil)
        let backoff = try await fixture.backoff("b.test")
        #expect(backoff?.failures == 0 && backoff?.backedOff == false, "b.test still backed off: \(String(describing: backoff))")
        #expect(fixture.b.receivedEventCounts == [eventID: 1])
        #expect(fixture.c.receivedEventCounts == [eventID: 1])
        let metrics = try await fixture.metrics(of: worker)
        #expect(metrics.contains(#"leave_worker_forwarding_failures_total{kind="no_answer"}"#), "\(metrics)")
        #expect(!metrics.contains("b.test") && !metrics.contains("c.test"), "a destination's name in a label: \(metrics)")
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }

    @Test func aBatchClaimedByAKilledWorkerIsDeliveredByAnotherAfterTheLease() async throws {
        let lease = Duration.seconds(4)
        let fixture = try await ForwardingFixture(lease: lease)
        let room = try await fixture.importRoom(leavers: ["@alice:a.test"])
        let first = try await fixture.startWorker()
        defer { first.stop() }
        // b.test hangs: its port takes connections and never answers. c.test answers, and its position
        // is recorded before the kill (else it would legitimately be sent again).
        await fixture.b.stop()
        let hanging = try await HangingPort.listening(on: try #require(fixture.b.port))

        let eventID = try await fixture.leave("@alice:a.test", room: room, through: first)
        let claimed = try await waitUntil(timeout: .seconds(5)) {
            let b = try await fixture.leaseAndSuccess("b.test"), c = try await fixture.leaseAndSuccess("c.test")
            return b.leasedUntil != nil && c.lastSuccess != nil && c.leasedUntil == nil
        }
        try #require(claimed != nil, "the first worker never claimed b.test")
        kill(first.process.processIdentifier, SIGKILL)
        await first.stopWithoutBlocking()
        let left = try await fixture.leaseAndSuccess("b.test")
        #expect(left.lastSuccess == nil, "b.test answered before the kill: \(left)")
        #expect(try await fixture.backlog() == 1, "b.test's delivery is still due")
        let leaseEnd = try #require(left.leasedUntil, "not killed while claimed")

        hanging.close()
        try await fixture.b.start()
        let second = try await fixture.startWorker()
        defer { second.stop() }
        let redelivered = await waitUntil(timeout: lease + .seconds(10)) { fixture.b.receivedEventCounts[eventID] != nil }
        try #require(redelivered != nil, "the second worker did not deliver the batch after the lease")
        let settled = await waitUntil(timeout: .seconds(3)) { (try? await fixture.backlog()) == 0 }
        let backlog = try await fixture.backlog()
        #expect(settled != nil, "lost deliveries: \(backlog)")
        let sentAt = try #require(try await fixture.leaseAndSuccess("b.test").lastSuccess)
        print("forwarding: claimed by a killed worker → delivered by another \(sentAt - leaseEnd) ms after its lease (\(lease)) ended")
        #expect(sentAt >= leaseEnd)   // not while the killed worker's lease held
        #expect(fixture.b.receivedEventCounts == [eventID: 1])
        #expect(fixture.c.receivedEventCounts == [eventID: 1])
        await second.stopWithoutBlocking()
        await fixture.shutdown()
    }

    @Test func twoWorkersSendingConcurrentlyNeverSendADeliveryTwice() async throws {
        let fixture = try await ForwardingFixture()
        let leavers = (1...24).map { "@alice\($0):a.test" }
        let room = try await fixture.importRoom(leavers: leavers)
        let workers = [try await fixture.startWorker(), try await fixture.startWorker()]
        defer { workers.forEach { $0.stop() } }

        // Four at a time, alternating workers: both senders wake for every leave and compete.
        var eventIDs: [String] = []
        for chunk in stride(from: 0, to: leavers.count, by: 4) {
            try await withThrowingTaskGroup(of: String.self) { group in
                for (offset, user) in leavers[chunk..<min(chunk + 4, leavers.count)].enumerated() {
                    let worker = workers[(chunk + offset) % 2]
                    group.addTask { try await fixture.leave(user, room: room, through: worker) }
                }
                for try await eventID in group { eventIDs.append(eventID) }
            }
        }
        let everything = Dictionary(uniqueKeysWithValues: eventIDs.map { ($0, 1) })
        let delivered = await waitUntil(timeout: .seconds(10)) {
            fixture.b.receivedEventCounts.count == eventIDs.count && fixture.c.receivedEventCounts.count == eventIDs.count
        }
        #expect(delivered != nil, "b.test got \(fixture.b.receivedEventCounts.count), c.test \(fixture.c.receivedEventCounts.count) of \(eventIDs.count)")
        try await Task.sleep(for: .milliseconds(800))
        #expect(fixture.b.receivedEventCounts == everything)
        #expect(fixture.c.receivedEventCounts == everything)
        #expect(fixture.a.transactionCount == 0 && fixture.ourselves.transactionCount == 0)
        #expect(try await fixture.backlog() == 0)
        for worker in workers { await worker.stopWithoutBlocking() }
        await fixture.shutdown()
    }
}
