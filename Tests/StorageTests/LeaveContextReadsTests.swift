import Postgres
@testable import Storage
import Synchronization
import TestSupport
import WorkDeadline
import XCTest

/// Several send_leaves' context reads in one statement answer each exactly as its own statement
/// would; reads that arrive while the reader is busy wait and share its next statement.
final class LeaveContextReadsTests: XCTestCase {
    /// Two rooms and every kind of entry a read meets — present and missing state keys, cited IDs
    /// known, unknown, repeated, of the other room, and a look-alike (`$K…` against `$\u{212A}…`),
    /// an event already stored (a replay), a room not held: the batch statement's answer for each
    /// request equals the single statement's.
    func testManyContextsInOneStatementEqualEachReadAlone() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "context_many")
        let store = RoomStore(pool: pool)
        var a = RoomBuilder(roomID: "!a:resident.test")
        a.join("@alice:remote.test")
        a.join("@bob:remote.test")
        a.append(type: "m.room.member", stateKey: "@Kim:remote.test", sender: "@Kim:remote.test", membership: "join",
                 id: "$Kim-join")
        var b = RoomBuilder(roomID: "!b:resident.test")
        b.join("@alice:remote.test")
        b.append(type: "m.room.power_levels", stateKey: "", sender: "@creator:resident.test", membership: nil, id: "$b-power")
        for room in [a, b] {
            _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        }
        let bobLeftA = a.leave("@bob:remote.test", id: "$bob-left-a", prevEvents: [a.lastEventID])
        guard case .stored = try await store.storeLeave(bobLeftA, expectedMembership: "join") else { return XCTFail("setup") }

        let keys = { (user: String) in
            [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.server_acl", ""), ("m.room.member", user)]
                .map { (type: $0.0, stateKey: $0.1) }
        }
        let requests = [
            LeaveContextRequest(roomID: a.roomID, eventID: "$new-1", stateKeys: keys("@alice:remote.test"),
                                authEventIDs: ["$create-!a:resident.test", "$join-@alice:remote.test-!a:resident.test"],
                                prevOnlyEventIDs: [a.lastEventID]),
            LeaveContextRequest(roomID: b.roomID, eventID: "$new-2", stateKeys: keys("@alice:remote.test"),
                                authEventIDs: ["$b-power", "$b-power", "$unknown", "$join-@bob:remote.test-!a:resident.test"], prevOnlyEventIDs: []),
            LeaveContextRequest(roomID: a.roomID, eventID: bobLeftA.eventID, stateKeys: keys("@bob:remote.test"),
                                authEventIDs: ["$create-!a:resident.test", a.lastEventID], prevOnlyEventIDs: []),
            LeaveContextRequest(roomID: a.roomID, eventID: "$new-3", stateKeys: keys("@\u{212A}im:remote.test"),
                                authEventIDs: ["$\u{212A}im-join"], prevOnlyEventIDs: []),
            LeaveContextRequest(roomID: a.roomID, eventID: "$new-4", stateKeys: keys("@Kim:remote.test"), authEventIDs: ["$Kim-join"], prevOnlyEventIDs: []),
            LeaveContextRequest(roomID: "!nowhere:resident.test", eventID: "$new-5", stateKeys: keys("@alice:remote.test"),
                                authEventIDs: ["$create-!a:resident.test"], prevOnlyEventIDs: []),
            LeaveContextRequest(roomID: b.roomID, eventID: "$new-6", stateKeys: [], authEventIDs: [], prevOnlyEventIDs: []),
        ]
        let reader = LeaveContextReader(pool: pool)
        let together = try await reader.read(requests)
        XCTAssertEqual(together.count, requests.count)
        for (request, batched) in zip(requests, together) {
            let alone = try await reader.read(request)
            XCTAssertEqual(Self.summary(batched), Self.summary(alone), request.eventID)
        }
        // The single statement's answers themselves, so that two equally wrong statements fail.
        XCTAssertEqual(Self.summary(together[0]).cited, ["$create-!a:resident.test", "$join-@alice:remote.test-!a:resident.test",
                                                         a.lastEventID].sorted())
        // Auth events come with their PDU; a prev event that is only that, and the event itself, without.
        for context in [together[0], try await reader.read(requests[0])] {
            for event in context.cited {
                XCTAssertEqual(event.pdu.isEmpty, event.eventID == a.lastEventID, event.eventID)
            }
        }
        XCTAssertEqual(Self.summary(together[1]).state, ["$b-power", "$create-!b:resident.test", "$join-@alice:remote.test-!b:resident.test"])
        XCTAssertEqual(Self.summary(together[1]).cited, ["$b-power"])
        XCTAssertTrue(together[2].alreadyStored)
        XCTAssertTrue(Self.summary(together[2]).state.contains("$bob-left-a"), "the member's current event")
        XCTAssertEqual(Self.summary(together[3]).cited, [], "a look-alike ID found another event")
        XCTAssertFalse(Self.summary(together[3]).state.contains("$Kim-join"), "a look-alike state key found another member")
        XCTAssertEqual(Self.summary(together[4]).cited, ["$Kim-join"])
        XCTAssertEqual(Self.summary(together[5]).state + Self.summary(together[5]).cited, [])
        XCTAssertEqual(Self.summary(together[6]).state + Self.summary(together[6]).cited, [])
        await pool.close()
    }

    /// One reader (a pool of two), held up by another session's lock on `current_state`: eleven
    /// reads that arrive meanwhile queue, and once the lock goes the next reader answers all of
    /// them with one statement, each with its own context.
    func testReadsQueuedBehindABusyReaderShareOneStatement() async throws {
        let (results, _, statements, room) = try await readsQueuedBehindAHeldReader(prefix: "context_queue")
        for (member, result) in results.enumerated() {
            let context = try result.get()
            let joined = "$join-@m\(member):remote.test-\(room)"
            XCTAssertEqual(context.state.map(\.eventID), [joined])
            XCTAssertEqual(context.cited.map(\.eventID), [joined])
            XCTAssertFalse(context.alreadyStored)
        }
        XCTAssertEqual(statements, [1, 11], "the queued reads did not share one statement")
    }

    /// One reader while it keeps up: with connections to spare, reads queued behind a busy reader
    /// wait for it until a full batch (four here) has queued, which a second reader then takes —
    /// not a reader per free connection, each answering a read alone.
    func testASecondReaderStartsOnlyForAFullBatch() async throws {
        let (results, whileHeld, statements, _) = try await readsQueuedBehindAHeldReader(
            prefix: "context_second", members: 5, maxReaders: 3, maxBatch: 4)
        for result in results { _ = try result.get() }
        XCTAssertEqual(whileHeld, [1, 4], "statements started while the first reader was held")
        XCTAssertEqual(statements, [1, 4])
    }

    /// A request whose value Postgres refuses (a NUL byte in a cited ID: SQLSTATE 22021), queued
    /// with ten others: the shared statement fails, each read is run again alone, and only that
    /// request fails — no request can fail the others queued with it.
    func testARequestThatFailsTheSharedStatementFailsOnlyItself() async throws {
        let (results, _, statements, room) = try await readsQueuedBehindAHeldReader(prefix: "context_poison") { member in
            member == 5 ? "$bad\u{0}id" : nil
        }
        for (member, result) in results.enumerated() {
            switch result {
            case .success(let context):
                XCTAssertNotEqual(member, 5, "the refused request was answered")
                XCTAssertEqual(context.cited.map(\.eventID), ["$join-@m\(member):remote.test-\(room)"])
            case .failure(let error):
                XCTAssertEqual(member, 5, "\(error)")
                XCTAssertEqual((error as? PostgresError)?.sqlState, "22021")
            }
        }
        XCTAssertEqual(statements, [1, 11] + Array(repeating: 1, count: 11), "the failed shared statement was not retried read by read")
    }

    /// Reads started together while no reader is busy: the first lets the others (already
    /// runnable) reach their reads before it reads, and all twelve share its statement — rather
    /// than the first reading alone and the rest after it ([1, 11], as before). One thread runs
    /// every task here, so which tasks are runnable when the first yields is certain.
    func testReadsStartedTogetherShareTheFirstReadersStatement() async throws {
        let fixture = try await ReadsFixture(prefix: "context_together", members: 12)
        let contexts = try await withTaskExecutorPreference(OneThreadExecutor()) {
            try await withThrowingTaskGroup(of: (Int, LeaveContext).self) { group in
                for member in 0..<12 { group.addTask { (member, try await fixture.reads.read(fixture.request(member))) } }
                var contexts: [Int: LeaveContext] = [:]
                for try await (member, context) in group { contexts[member] = context }
                return contexts
            }
        }
        for member in 0..<12 {
            XCTAssertEqual(contexts[member]?.cited.map(\.eventID), ["$join-@m\(member):remote.test-\(fixture.roomID)"])
        }
        XCTAssertEqual(fixture.statements, [12], "the reads started together did not share one statement")
        await fixture.pool.close()
    }

    /// The same, with the first caller's deadline already passed: it gives up instead of joining
    /// the reads queued behind it, and hands its reader's slot on — the others are still read,
    /// together.
    func testAFirstReaderPastItsDeadlineHandsTheQueuedReadsOn() async throws {
        let fixture = try await ReadsFixture(prefix: "context_expired", members: 12)
        let expired = DeadlineScope(deadline: .now + .seconds(30))
        expired.expire()
        // The others give up after 30 s: were the slot kept, they would wait for ever.
        let patience = DeadlineScope(deadline: .now + .seconds(30))
        let watchdog = Task { try await Task.sleep(for: .seconds(30)); patience.expire() }
        defer { watchdog.cancel() }
        let results = await withTaskExecutorPreference(OneThreadExecutor()) {
            await withTaskGroup(of: (Int, Result<LeaveContext, any Error>).self) { group in
                for member in 0..<12 {
                    group.addTask {
                        do {
                            return (member, .success(try await DeadlineScope.$current.withValue(member == 0 ? expired : patience) {
                                try await fixture.reads.read(fixture.request(member))
                            }))
                        } catch {
                            return (member, .failure(error))
                        }
                    }
                }
                var results: [Int: Result<LeaveContext, any Error>] = [:]
                for await (member, result) in group { results[member] = result }
                return results
            }
        }
        XCTAssertThrowsError(try results[0]?.get(), "the expired caller was answered") { error in
            XCTAssertTrue(error is DeadlineExceeded, "\(error)")
        }
        for member in 1..<12 {
            XCTAssertEqual(try results[member]?.get().cited.map(\.eventID), ["$join-@m\(member):remote.test-\(fixture.roomID)"])
        }
        XCTAssertEqual(fixture.statements, [11])
        await fixture.pool.close()
    }

    /// `members` members' reads (twelve unless said) through one reader held up by another
    /// session's lock on `current_state` (the first) and queued behind it (the others), with
    /// `maxReaders` readers of `maxBatch` reads at most; `extraCitedID` adds a cited ID to a
    /// member's request. Returns each read's result in member order, the statements started while
    /// the lock was held and all statements run (each one's request count), and the room's ID.
    private func readsQueuedBehindAHeldReader(
        prefix: String, members: Int = 12, maxReaders: Int = 1, maxBatch: Int = 32,
        extraCitedID: @escaping @Sendable (Int) -> String? = { _ in nil }
    ) async throws -> (results: [Result<LeaveContext, any Error>], whileHeld: [Int], statements: [Int], room: String) {
        let fixture = try await ReadsFixture(prefix: prefix, members: members, maxReaders: maxReaders,
                                             maxBatch: maxBatch, extraCitedID: extraCitedID)
        let blocker = try PostgresConnection(url: fixture.pool.configuration.url)
        _ = try blocker.query("BEGIN")
        _ = try blocker.query("LOCK TABLE current_state IN ACCESS EXCLUSIVE MODE")
        let first = Task { try await fixture.reads.read(fixture.request(0)) }
        try await Task.sleep(for: .milliseconds(200))   // the reader now waits for the lock
        let queued = (1..<members).map { member in Task { try await fixture.reads.read(fixture.request(member)) } }
        try await Task.sleep(for: .milliseconds(200))   // all queued behind it
        let whileHeld = fixture.statements
        _ = try blocker.query("COMMIT")

        var results: [Result<LeaveContext, any Error>] = []
        for task in [first] + queued { results.append(await task.result) }
        await fixture.pool.close()
        return (results, whileHeld, fixture.statements, fixture.roomID)
    }

    /// A queued read's caller gives up at its request's deadline; the reads queued with it are
    /// still answered.
    func testAQueuedReadsCallerGivesUpAtItsDeadline() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "context_deadline", poolSize: 1)   // one reader
        let store = RoomStore(pool: pool)
        var built = RoomBuilder(roomID: "!late:resident.test")
        built.join("@alice:remote.test")
        built.join("@bob:remote.test")
        let room = built
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let keys = { @Sendable (user: String) in [(type: "m.room.member", stateKey: user)] }

        let blocker = try PostgresConnection(url: pool.configuration.url)
        _ = try blocker.query("BEGIN")
        _ = try blocker.query("LOCK TABLE current_state IN ACCESS EXCLUSIVE MODE")
        let first = Task {
            try await store.leaveContext(roomID: room.roomID, eventID: "$x", stateKeys: keys("@alice:remote.test"), authEventIDs: [], prevEventIDs: [])
        }
        try await Task.sleep(for: .milliseconds(200))
        let scope = DeadlineScope(deadline: .now + .seconds(30))
        let late = Task {
            try await DeadlineScope.$current.withValue(scope) {
                try await store.leaveContext(roomID: room.roomID, eventID: "$y", stateKeys: keys("@bob:remote.test"), authEventIDs: [], prevEventIDs: [])
            }
        }
        let patient = Task {
            try await store.leaveContext(roomID: room.roomID, eventID: "$z", stateKeys: keys("@bob:remote.test"), authEventIDs: [], prevEventIDs: [])
        }
        try await Task.sleep(for: .milliseconds(200))   // both queued behind the held reader
        scope.expire()
        do {
            _ = try await late.value
            XCTFail("the caller must give up at its deadline")
        } catch {
            XCTAssertTrue("\(error)".contains("deadline"), "\(error)")
        }
        _ = try blocker.query("COMMIT")
        let firstState = try await first.value.state.map(\.eventID)
        XCTAssertEqual(firstState, ["$join-@alice:remote.test-!late:resident.test"])
        let patientState = try await patient.value.state.map(\.eventID)
        XCTAssertEqual(patientState, ["$join-@bob:remote.test-!late:resident.test"])
        await pool.close()
    }

    /// The batch statement keeps its plan for a connection's life (a generic plan, made at its
    /// first run): made while the tables were tiny, it still reads them only by index probes once
    /// they have grown by thousands of rows (`pg_stat_xact_user_tables`, this transaction's counts).
    func testTheBatchStatementNeverScansATableWhateverItsSizeWhenPlanned() async throws {
        let pool = try await StorageFixture.migratedPool(prefix: "context_plans")
        let store = RoomStore(pool: pool)
        var room = RoomBuilder(roomID: "!plans:resident.test")
        room.join("@alice:remote.test")
        room.join("@bob:remote.test")
        _ = try await store.importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let parameters = { (user: String) -> [PostgresValue] in
            [.textArray(["0", "0"]), .textArray([room.roomID, room.roomID]), .textArray(["m.room.create", "m.room.member"]),
             .textArray(["", user]),
             .textArray(["0", "1"]), .textArray([room.roomID, room.roomID]), .textArray([room.lastEventID, "$unknown"]),
             .textArray(["0", "1"]), .textArray([room.roomID, room.roomID]), .textArray(["$new", room.lastEventID]),
             .textArray(["a", "p"])]
        }

        let connection = try PostgresConnection(url: pool.configuration.url)   // generic plans, as the workers'
        XCTAssertEqual(try connection.query(LeaveContextReader.manySQL, parameters("@alice:remote.test")).rowCount, 4)
        var grown = RoomBuilder(roomID: "!grown:resident.test")
        for member in 0..<3000 { grown.join("@m\(member):remote.test") }
        _ = try await store.importRoom(roomID: grown.roomID, version: grown.version, events: grown.events, state: grown.stateRecords)
        _ = try connection.query("BEGIN")
        XCTAssertEqual(try connection.query(LeaveContextReader.manySQL, parameters("@bob:remote.test")).rowCount, 4)
        let scans = try connection.query("""
            SELECT relname, seq_scan, seq_tup_read FROM pg_stat_xact_user_tables WHERE seq_scan > 0 ORDER BY 1
            """).rows.map { row in (0..<row.columnCount).map { row.string($0) ?? "∅" } }
        _ = try connection.query("COMMIT")
        XCTAssertEqual(scans, [], "tables read by a sequential scan while reading leave contexts")
        await pool.close()
    }

    /// A context's events by ID, sorted (the parts' row order is not part of the answer).
    private struct Summary: Equatable {
        let state: [String]
        let cited: [String]
        let stored: Bool
    }

    private static func summary(_ context: LeaveContext) -> Summary {
        Summary(state: context.state.map(\.eventID).sorted(), cited: context.cited.map(\.eventID).sorted(),
                stored: context.alreadyStored)
    }
}

/// A room of `members` joined members (`@m0:remote.test`, …), a ``LeaveContextReads`` over a pool
/// of `maxReaders + 1` connections that logs each statement's request count, and each member's
/// request (its member state entry, its join event cited, plus `extraCitedID`'s).
private struct ReadsFixture: Sendable {
    let pool: PostgresPool
    let reads: LeaveContextReads
    let roomID: String
    let request: @Sendable (Int) -> LeaveContextRequest
    private let log: StatementLog

    /// Each statement run so far: how many requests it carried.
    var statements: [Int] { log.counts.withLock { $0 } }

    init(prefix: String, members: Int, maxReaders: Int = 1, maxBatch: Int = 32,
         extraCitedID: @escaping @Sendable (Int) -> String? = { _ in nil }) async throws {
        pool = try await StorageFixture.migratedPool(prefix: prefix, poolSize: maxReaders + 1)
        var built = RoomBuilder(roomID: "!queue:resident.test")
        for member in 0..<members { built.join("@m\(member):remote.test") }
        let room = built
        _ = try await RoomStore(pool: pool).importRoom(roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
        let reader = LeaveContextReader(pool: pool)
        let log = StatementLog()
        self.log = log
        reads = LeaveContextReads(
            maxReaders: maxReaders, maxBatch: maxBatch,
            readOne: { request in
                log.counts.withLock { $0.append(1) }
                return try await reader.read(request)
            },
            readMany: { requests in
                log.counts.withLock { $0.append(requests.count) }
                return try await reader.read(requests)
            })
        roomID = room.roomID
        request = { member in
            LeaveContextRequest(roomID: room.roomID, eventID: "$leave-\(member)",
                                stateKeys: [(type: "m.room.member", stateKey: "@m\(member):remote.test")],
                                authEventIDs: ["$join-@m\(member):remote.test-\(room.roomID)"] + [extraCitedID(member)].compactMap { $0 }, prevOnlyEventIDs: [])
        }
    }
}

private final class StatementLog: Sendable {
    let counts = Mutex<[Int]>([])
}
