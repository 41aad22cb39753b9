import Foundation
import MatrixCore
import Postgres
import Storage
import TestSupport
import XCTest

/// A database that lived under an earlier schema, upgraded by the migrations after it: its rows
/// come through unchanged and leaves are stored and forwarded as before — by this worker and by a
/// worker of the earlier version still running its own prepared `store_leaves` call (a rolling
/// upgrade). The earlier schema is the one before `sql/0019` (the migrations 0019–0023 rebuild the
/// identifier indexes under another collation, move the PDUs out of the call's JSON, drop the last
/// foreign key and turn two CHECKs into domains, on tables that already hold rows).
final class SchemaUpgradeTests: XCTestCase {
    /// The last migration of the earlier schema.
    private static let earlierSchemaLast = "0018_extremity_indexes_by_depth_known"

    private var pool: PostgresPool!
    private var earlierDirectory: URL!
    private var room = RoomBuilder(roomID: "!upgrade:resident.test")

    override func setUp() async throws {
        let all = try Migrator(directory: StorageFixture.sqlDirectory).migrations.map(\.name)
        let last = try XCTUnwrap(all.firstIndex(of: Self.earlierSchemaLast), "no \(Self.earlierSchemaLast) in sql/")
        earlierDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("leave-worker-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: earlierDirectory, withIntermediateDirectories: true)
        for name in all[...last] {
            try FileManager.default.copyItem(at: StorageFixture.sqlDirectory.appendingPathComponent("\(name).sql"),
                                             to: earlierDirectory.appendingPathComponent("\(name).sql"))
        }
        pool = PostgresPool(configuration: PostgresConfiguration(
            url: try TestDatabase.create(prefix: "upgrade"), poolSize: 2, acquireTimeout: .seconds(30)))
        let applied = try await Migrator(directory: earlierDirectory).migrate(pool: pool)
        XCTAssertEqual(applied, Array(all[...last]))
        for user in ["@alice:resident.test", "@bob:remote.test", "@carol:third.test", "@dan:remote.test", "@erin:remote.test"] {
            room.join(user)
        }
        _ = try await RoomStore(pool: pool).importRoom(
            roomID: room.roomID, version: room.version, events: room.events, state: room.stateRecords)
    }

    override func tearDown() async throws {
        await pool.close()
        try? FileManager.default.removeItem(at: earlierDirectory)
    }

    func testRowsComeThroughAndLeavesAreStoredAndForwardedAfterTheUpgrade() async throws {
        // Under the earlier schema, as its workers stored leaves: the PDU inside the JSON.
        let bob = room.leave("@bob:remote.test", id: "$bob-leave", prevEvents: [room.lastEventID])
        let bobOutcome = try await storeAsEarlierWorker(bob)
        XCTAssertEqual(bobOutcome, "stored")
        let earlierColumns = try await columns()
        let before = try await everything(earlierColumns)

        let migrator = try Migrator(directory: StorageFixture.sqlDirectory)
        let upgraded = try await migrator.migrate(pool: pool)
        let all = migrator.migrations.map(\.name)
        XCTAssertEqual(upgraded, Array(all[(all.firstIndex(of: Self.earlierSchemaLast)! + 1)...]))
        XCTAssertEqual(upgraded.first, "0019_identifiers_collate_c")

        let after = try await everything(earlierColumns)
        XCTAssertEqual(after, before, "every row of every table reads back unchanged")
        XCTAssertEqual(before["events"]?.count, room.events.count + 1)
        let orphans = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphans, [])

        // This worker's path, and an earlier worker's prepared call, on the upgraded tables.
        let store = RoomStore(pool: pool)
        let dan = room.leave("@dan:remote.test", id: "$dan-leave", prevEvents: ["$bob-leave"])
        guard case .stored = try await store.storeLeave(dan, expectedMembership: "join") else {
            return XCTFail("dan's leave not stored after the upgrade")
        }
        let erin = room.leave("@erin:remote.test", id: "$erin-leave", prevEvents: ["$dan-leave"])
        let erinOutcome = try await storeAsEarlierWorker(erin)
        XCTAssertEqual(erinOutcome, "stored")
        for (user, event) in [("@bob:remote.test", bob), ("@dan:remote.test", dan), ("@erin:remote.test", erin)] {
            let membership = try await store.membership(roomID: room.roomID, userID: user)
            XCTAssertEqual(membership?.membership, "leave", user)
            XCTAssertEqual(membership?.eventID, event.eventID, user)
            let stored = try await store.event(id: event.eventID)
            XCTAssertEqual(stored, event, "\(event.eventID) reads back exactly, PDU bytes included")
        }
        let servers = try await StorageFixture.rows(pool, "SELECT server_name, joined_members FROM room_joined_servers ORDER BY 1")
        XCTAssertEqual(servers, [["remote.test", "0"], ["resident.test", "1"], ["third.test", "1"]])
        let extremities = try await store.forwardExtremities(roomID: room.roomID, limit: 20)
        XCTAssertEqual(extremities.map(\.eventID), ["$erin-leave"])

        // The sender forwards all three, the one stored before the upgrade first. An earlier
        // worker's read of the horizon (sql/0026 added a parameter and columns) still answers.
        let earlierHorizon = try await StorageFixture.rows(pool, #"SELECT "position" > 0, writers FROM stream_horizon()"#)
        XCTAssertEqual(earlierHorizon, [["t", "{}"]])
        let safe = try await store.horizon.safePosition()
        let forwarding = ForwardingStore(pool: pool, serverName: "resident.test")
        let batch = try await forwarding.claim(destination: "third.test", limit: 50, lease: .seconds(60), safe: safe)
        XCTAssertEqual(batch?.events.map(\.eventID), ["$bob-leave", "$dan-leave", "$erin-leave"])

        // The rules the upgrade moved into domains hold for the rows that were there before it.
        try await assertRefused("UPDATE memberships SET membership = 'gone' WHERE user_id = '@alice:resident.test'")
        try await assertRefused("UPDATE room_joined_servers SET joined_members = -1 WHERE server_name = 'third.test'")
        let orphansAfter = try await StorageFixture.orphans(pool)
        XCTAssertEqual(orphansAfter, [])
    }

    /// The tables compared across the upgrade: the room's and the forwarding state's.
    private static let tables = ["rooms", "events", "current_state", "memberships", "forward_extremities",
                                 "room_joined_servers", "destinations", "server_keys"]

    /// Each table's columns, in order, as the schema has them now.
    private func columns() async throws -> [String: [String]] {
        var columns: [String: [String]] = [:]
        for table in Self.tables {
            columns[table] = try await StorageFixture.rows(pool, """
                SELECT column_name FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position
                """, [.text(table)]).map { $0[0] }
        }
        return columns
    }

    /// Every row of each table, `columns` of it (the earlier schema's: a column a later migration
    /// adds is not compared), as sorted text.
    private func everything(_ columns: [String: [String]]) async throws -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for table in Self.tables {
            let list = (columns[table] ?? []).map { "t.\($0)" }.joined(separator: ", ")
            rows[table] = try await StorageFixture.rows(pool, "SELECT row(\(list))::text FROM \(table) t ORDER BY 1").map { $0[0] }
        }
        return rows
    }

    /// Stores `leave` with the call a worker of the earlier schema prepared: `store_leaves($1::json)`,
    /// its PDU inside the JSON object. Returns the outcome.
    private func storeAsEarlierWorker(_ leave: EventRecord) async throws -> String? {
        try await StorageFixture.rows(pool, "SELECT outcome FROM store_leaves($1::json)",
                                      [.text(StorageFixture.earlierWorkerLeaves([leave]))]).first?.first
    }

    private func assertRefused(_ sql: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        do {
            _ = try await StorageFixture.rows(pool, sql)
            XCTFail("accepted: \(sql)", file: file, line: line)
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514", "\(sql): \(error)", file: file, line: line)
        }
    }
}
