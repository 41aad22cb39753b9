import MatrixCore

/// A leave to store: the event and the membership it was validated against.
struct LeaveWrite: Sendable {
    let event: EventRecord
    /// nil: the member must have no membership (NULL in SQL).
    let expectedMembership: String?
}

/// The one Swift definition of a stored leave's fields: the attributes of the SQL composite type
/// `leave_input` (`sql/0009_forwarding_positions.sql`), which `store_leaves` reads with
/// `json_populate_record`. A new column is one entry here and one attribute there.
enum LeaveInput {
    /// Each attribute of `leave_input` with how a leave fills it.
    static let columns: [(name: String, value: @Sendable (LeaveWrite) -> JSONValue)] = [
        ("room_id", { .string($0.event.roomID) }),
        ("event_id", { .string($0.event.eventID) }),
        ("type", { .string($0.event.type) }),
        ("state_key", { $0.event.stateKey.map(JSONValue.string) ?? .null }),
        ("sender", { .string($0.event.sender) }),
        ("depth", { .integer($0.event.depth) }),
        ("origin_server_ts", { .integer($0.event.originServerTS) }),
        ("membership", { $0.event.membership.map(JSONValue.string) ?? .null }),
        ("prev_events", { .array($0.event.prevEvents.map(JSONValue.string)) }),
        ("auth_events", { .array($0.event.authEvents.map(JSONValue.string)) }),
        ("pdu", { .string(String(decoding: $0.event.pdu, as: UTF8.self)) }),
        ("expected_membership", { $0.expectedMembership.map(JSONValue.string) ?? .null }),
    ]

    /// The `store_leaves` argument for these leaves: a JSON array of `leave_input` objects.
    static func document(_ writes: [LeaveWrite]) -> String {
        let array = JSONValue.array(writes.map { write in .object(JSONObject(columns.map { ($0.name, $0.value(write)) })) })
        return String(decoding: array.compactBytes(), as: UTF8.self)
    }
}
