import Postgres
import TestSupport
import XCTest

/// LISTEN/NOTIFY through a dedicated connection, across a killed backend.
final class ListenerTests: DatabaseTestCase {
    override class var databasePrefix: String { "listener" }

    func testNotificationsArriveAndListeningResumesAfterTheBackendIsKilled() async throws {
        let listener = try PostgresListener(url: url + "?application_name=listener-under-test",
                                            channels: ["Leave Events", "other"], reconnectDelay: .milliseconds(50))
        var events = listener.events.makeAsyncIterator()
        let sender = try PostgresConnection(url: url)
        let first = await events.next()
        XCTAssertEqual(first, .listening)

        _ = try sender.query("SELECT pg_notify($1, $2)", [.text("Leave Events"), .text("ünï payload 1")])
        _ = try sender.query("SELECT pg_notify($1, $2)", [.text("unheard"), .text("not subscribed")])
        _ = try sender.query("SELECT pg_notify($1, $2)", [.text("other"), .text("")])
        let second = await events.next()
        XCTAssertEqual(second, .notification(PostgresNotification(channel: "Leave Events", payload: "ünï payload 1",
                                                                   senderProcessID: sender.backendProcessID)))
        let third = await events.next()
        XCTAssertEqual(third, .notification(PostgresNotification(channel: "other", payload: "", senderProcessID: sender.backendProcessID)))

        let killed = try sender.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                                      [.text("listener-under-test")])
        XCTAssertEqual(killed.rows.map { $0.bool(0) }, [true])
        let afterKill = await events.next()
        XCTAssertEqual(afterKill, .listening)

        _ = try sender.query("SELECT pg_notify($1, $2)", [.text("Leave Events"), .text("after reconnect")])
        let fourth = await events.next()
        XCTAssertEqual(fourth, .notification(PostgresNotification(channel: "Leave Events", payload: "after reconnect",
                                                                   senderProcessID: sender.backendProcessID)))

        listener.stop()
        let end = await events.next()
        XCTAssertNil(end, "the stream finishes after stop()")
    }

    func testStopWhileTheServerIsUnreachableFinishesTheStream() async throws {
        let port = try PoolTests.unusedLoopbackPort()
        let listener = try PostgresListener(url: "postgresql://postgres@127.0.0.1:\(port)/postgres", channels: ["c"],
                                            reconnectDelay: .seconds(30))
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let start = clock.now
        listener.stop()
        var events = listener.events.makeAsyncIterator()
        let end = await events.next()
        XCTAssertNil(end)
        XCTAssertLessThan(clock.now - start, .seconds(5), "stop() interrupts the 30 s reconnect delay")
    }
}
