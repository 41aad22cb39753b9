import Foundation
import MatrixCore
import Postgres
@testable import Storage
import TestSupport

/// A fresh, migrated database per test, and builders for the events the tests store.
enum StorageFixture {
    /// The repository's `sql/` directory.
    static let sqlDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql")

    /// A listener on the stream's channel, already listening, whose watchdog stops it after
    /// `watchdog` (a notification that never comes then ends `events` — a failure, not a hang).
    static func listening(_ pool: PostgresPool, watchdog: Duration = .seconds(20)) async throws -> StreamListening {
        let listener = try PostgresListener(url: pool.configuration.url, channels: [StreamNotification.channel])
        let timer = Task { try await Task.sleep(for: watchdog); listener.stop() }
        var events = listener.events.makeAsyncIterator()
        guard await events.next() == .listening else {
            timer.cancel()
            listener.stop()
            throw StreamListening.NotListening()
        }
        return StreamListening(listener: listener, watchdog: timer, events: events)
    }

    /// A pool on a new database with every migration applied.
    static func migratedPool(prefix: String, poolSize: Int = 4) async throws -> PostgresPool {
        let pool = PostgresPool(configuration: PostgresConfiguration(
            url: try TestDatabase.create(prefix: prefix), poolSize: poolSize, acquireTimeout: .seconds(30)))
        _ = try await Migrator(directory: sqlDirectory).migrate(pool: pool)
        return pool
    }

    /// Runs one statement and returns every row's columns as text (NULL as "∅"), for assertions.
    static func rows(_ pool: PostgresPool, _ sql: String, _ parameters: [PostgresValue] = []) async throws -> [[String]] {
        try await pool.withConnection { connection in
            let result = try connection.query(sql, parameters)
            return result.rows.map { row in (0..<row.columnCount).map { row.string($0) ?? "∅" } }
        }
    }

    /// Everything stored about a room, table by table, as sorted text rows: equal before and after
    /// a call means the call wrote nothing.
    static func dump(_ pool: PostgresPool, roomID: String) async throws -> [String: [String]] {
        var dump: [String: [String]] = [:]
        for table in ["rooms", "events", "current_state", "memberships", "forward_extremities",
                      "room_joined_servers"] {
            dump[table] = try await rows(pool, "SELECT t::text FROM \(table) t WHERE room_id = $1 ORDER BY 1",
                                         [.text(roomID)]).map { $0[0] }
        }
        return dump
    }
}

extension StorageFixture {
    /// `store_leaves`' one argument as workers before sql/0020 send it (and the call
    /// `store_leaves($1::json)` they prepared still takes): the fields `LeaveInput` writes, and
    /// each leave's PDU inside its object — leaves of joined members.
    static func earlierWorkerLeaves(_ leaves: [EventRecord]) -> String {
        let objects: [JSONValue] = leaves.map { leave in
            let write = LeaveWrite(event: leave, expectedMembership: "join")
            var object = JSONObject()
            for column in LeaveInput.columns { object[column.name] = column.value(write) }
            object["pdu"] = .string(String(decoding: leave.pdu, as: UTF8.self))
            return .object(object)
        }
        return String(decoding: JSONValue.array(objects).compactBytes(), as: UTF8.self)
    }
}

extension StorageFixture {
    /// Rows that point at a missing event, and events of a missing room (no table has a foreign
    /// key: sql/README.md, "Schema").
    static func orphans(_ pool: PostgresPool) async throws -> [[String]] {
        try await rows(pool, """
            SELECT 'events', event_id FROM events t WHERE NOT EXISTS (SELECT 1 FROM rooms r WHERE r.room_id = t.room_id)
            UNION ALL SELECT 'current_state', event_id FROM current_state t
                WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = t.room_id AND e.event_id = t.event_id)
            UNION ALL SELECT 'memberships', event_id FROM memberships t
                WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = t.room_id AND e.event_id = t.event_id)
            UNION ALL SELECT 'forward_extremities', event_id FROM forward_extremities t
                WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = t.room_id AND e.event_id = t.event_id)
            """)
    }
}

/// Hand-built events: a room `roomID` created by `@creator:resident.test`, members joining one by one.
struct RoomBuilder {
    let roomID: String
    let version: String
    private(set) var events: [EventRecord] = []
    /// The latest event per (type, state key).
    private(set) var state: [String: EventRecord] = [:]

    init(roomID: String, version: String = "10") {
        self.roomID = roomID
        self.version = version
        append(type: "m.room.create", stateKey: "", sender: "@creator:resident.test", membership: nil, id: "$create-\(roomID)")
    }

    var lastEventID: String { events.last?.eventID ?? "" }
    var stateRecords: [EventRecord] { state.keys.sorted().compactMap { state[$0] } }

    mutating func join(_ userID: String) {
        append(type: "m.room.member", stateKey: userID, sender: userID, membership: "join", id: "$join-\(userID)-\(roomID)")
    }

    mutating func append(type: String, stateKey: String?, sender: String, membership: String?, id: String) {
        let record = RoomBuilder.record(roomID: roomID, id: id, type: type, stateKey: stateKey, sender: sender,
                                        membership: membership, prevEvents: events.last.map { [$0.eventID] } ?? [],
                                        depth: Int64(events.count + 1))
        events.append(record)
        if let stateKey { state["\(type)\u{0}\(stateKey)"] = record }
    }

    /// An event whose PDU is a small JSON object naming it (stored and read back byte for byte).
    static func record(roomID: String, id: String, type: String, stateKey: String?, sender: String, membership: String?,
                       prevEvents: [String], depth: Int64) -> EventRecord {
        let content = membership.map { #"{"membership":"\#($0)"}"# } ?? "{}"
        let pdu = #"{"content":\#(content),"event_id":"\#(id)","room_id":"\#(roomID)","sender":"\#(sender)","type":"\#(type)","unicode":"é ✓ \u0000"}"#
        return EventRecord(eventID: id, roomID: roomID, type: type, stateKey: stateKey, sender: sender, depth: depth,
                           originServerTS: 1_700_000_000_000 + depth, membership: membership, prevEvents: prevEvents,
                           authEvents: prevEvents.isEmpty ? [] : ["$create-\(roomID)"], pdu: Array(pdu.utf8))
    }

    /// A self-leave of `userID` citing `prevEvents`.
    func leave(_ userID: String, id: String, prevEvents: [String]) -> EventRecord {
        RoomBuilder.record(roomID: roomID, id: id, type: "m.room.member", stateKey: userID, sender: userID,
                           membership: "leave", prevEvents: prevEvents, depth: Int64(events.count + 1))
    }
}

/// A listening `PostgresListener` on the stream's channel and its events (`StorageFixture.listening`).
struct StreamListening {
    struct NotListening: Error {}

    let listener: PostgresListener
    let watchdog: Task<Void, any Error>
    var events: AsyncStream<PostgresListener.Event>.Iterator

    func stop() {
        watchdog.cancel()
        listener.stop()
    }
}
