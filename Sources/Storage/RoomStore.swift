import Postgres

/// Rooms, their events, state, memberships and forward extremities in Postgres (schema: sql/).
/// Reads are single statements; the writes are one statement each (`store_leave`, `import_room`).
public final class RoomStore: Sendable {
    let pool: PostgresPool
    let retryPolicy: RetryPolicy
    let notifier: StreamNotifier
    let batcher: LeaveBatcher
    let contextReads: LeaveContextReads
    let templateReads: TemplateContextReads
    /// The event stream's safe point (sql/README.md, "Event stream"): readers of the stream in
    /// position order stop there. One per process: the federation sender shares it.
    public let horizon: StreamHorizon

    /// The most leaves `store_leaves` commits in one transaction.
    static let maxLeavesPerTransaction = 32
    /// The most send_leave context reads (or make_leave template reads) one statement serves.
    static let maxReadsPerStatement = 32

    /// Leave writes run on at most half the pool's connections at once (the reads keep the rest),
    /// one while it keeps up (`LeaveBatcher`); leaves arriving meanwhile are committed together, up
    /// to `maxLeavesPerTransaction`. send_leave reads likewise, and make_leave reads apart from
    /// them: one reader while it keeps up (`SharedReads`, up to every connection); reads arriving
    /// meanwhile share its next statement, up to `maxReadsPerStatement`.
    public init(pool: PostgresPool, retryPolicy: RetryPolicy = .default) {
        self.pool = pool
        self.retryPolicy = retryPolicy
        let notifier = StreamNotifier(pool: pool)
        self.notifier = notifier
        horizon = StreamHorizon(pool: pool)
        let writer = LeaveWriter(pool: pool, retryPolicy: retryPolicy, notifier: notifier)
        batcher = LeaveBatcher(maxWriters: pool.configuration.poolSize / 2, maxBatch: Self.maxLeavesPerTransaction,
                               writeOne: writer.writeLeave, writeMany: writer.writeLeaves)
        let reader = LeaveContextReader(pool: pool)
        contextReads = LeaveContextReads(maxReaders: pool.configuration.poolSize, maxBatch: Self.maxReadsPerStatement,
                                         readOne: reader.read, readMany: reader.read)
        let templateReader = TemplateContextReader(pool: pool)
        templateReads = TemplateContextReads(maxReaders: pool.configuration.poolSize, maxBatch: Self.maxReadsPerStatement,
                                             readOne: templateReader.read, readMany: templateReader.read)
    }

    /// The room's version, or nil if the room is not held here.
    public func roomVersion(_ roomID: String) async throws(StorageError) -> String? {
        guard roomID.isStorableText else { return nil }
        return try await StorageError.translating { try await pool.withConnection { connection in
            let result = try connection.query("SELECT room_version FROM rooms WHERE room_id = $1", [.text(roomID)])
            return result.rows.first?.string(0)
        } }
    }

    /// The current-state events at the given (type, state key) entries; entries without one are left out.
    public func currentStateEvents(roomID: String, keys: [(type: String, stateKey: String)]) async throws -> [EventRecord] {
        let types = PostgresValue.textArray(keys.map(\.type))
        let stateKeys = PostgresValue.textArray(keys.map(\.stateKey))
        return try await pool.withConnection { connection in
            try connection.query("""
                SELECT \(EventColumns.select) FROM \(EventColumns.currentStateEvents(roomID: "$1", types: "$2", stateKeys: "$3"))
                """, [.text(roomID), types, stateKeys]).eventRecords()
        }
    }

    /// Up to `limit` forward extremities, deepest (then most recently stored) first.
    public func forwardExtremities(roomID: String, limit: Int) async throws -> [(eventID: String, depth: Int64)] {
        try await pool.withConnection { connection in
            let result = try connection.query("""
                SELECT f.event_id, e.depth
                FROM forward_extremities f \(EventColumns.joinEvent(roomID: "f.room_id", eventID: "f.event_id"))
                WHERE f.room_id = $1 ORDER BY e.depth DESC, e.stream_ordering DESC LIMIT $2
                """, [.text(roomID), .int(Int64(max(0, limit)))])
            return try result.rows.map { row throws(StorageError) in
                guard let eventID = row.string(0), let depth = row.int64(1) else {
                    throw .malformedRow("forward_extremities row")
                }
                return (eventID, depth)
            }
        }
    }

    /// The room's events among `ids` (unknown IDs are left out), in stream order.
    public func events(roomID: String, ids: [String]) async throws -> [EventRecord] {
        try await pool.withConnection { connection in
            try connection.query("""
                SELECT \(EventColumns.select) FROM \(EventColumns.eventsByID(roomID: "$1", eventIDs: "$2"))
                ORDER BY e.stream_ordering
                """, [.text(roomID), .textArray(ids)]).eventRecords()
        }
    }

    /// The event with this ID in any room held here.
    public func event(id: String) async throws(StorageError) -> EventRecord? {
        guard id.isStorableText else { return nil }
        return try await StorageError.translating { try await pool.withConnection { connection in
            try connection.query("SELECT \(EventColumns.select) FROM events e WHERE e.event_id = $1",
                                 [.text(id)]).eventRecords().first
        } }
    }

    /// The user's current membership in the room and the event that set it.
    public func membership(roomID: String, userID: String) async throws -> (membership: String, eventID: String)? {
        try await pool.withConnection { connection in
            let result = try connection.query(
                "SELECT membership, event_id FROM memberships WHERE room_id = $1 AND user_id = $2",
                [.text(roomID), .text(userID)])
            guard let row = result.rows.first else { return nil }
            guard let membership = row.string(0), let eventID = row.string(1) else {
                throw StorageError.malformedRow("memberships row")
            }
            return (membership, eventID)
        }
    }

    /// How many of the room's users have each membership.
    public func membershipCounts(roomID: String) async throws -> [String: Int] {
        try await pool.withConnection { connection in
            let result = try connection.query(
                "SELECT membership, count(*) FROM memberships WHERE room_id = $1 GROUP BY membership", [.text(roomID)])
            var counts: [String: Int] = [:]
            for row in result.rows {
                guard let membership = row.string(0), let count = row.int64(1) else { throw StorageError.malformedRow("membership count") }
                counts[membership] = Int(count)
            }
            return counts
        }
    }

    /// Every user with a membership in the room (any membership), ordered by user ID.
    public func members(roomID: String) async throws -> [(userID: String, membership: String, eventID: String)] {
        try await pool.withConnection { connection in
            let result = try connection.query(
                "SELECT user_id, membership, event_id FROM memberships WHERE room_id = $1 ORDER BY user_id",
                [.text(roomID)])
            return try result.rows.map { row throws(StorageError) in
                guard let userID = row.string(0), let membership = row.string(1), let eventID = row.string(2) else {
                    throw .malformedRow("memberships row")
                }
                return (userID, membership, eventID)
            }
        }
    }
}
