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
    /// A field's JSON value: a value, or a string given as its UTF-8 bytes (the PDU, written
    /// straight from the bytes it is stored as).
    enum Field {
        case value(JSONValue)
        case utf8String([UInt8])
    }

    /// Each attribute of `leave_input` with how a leave fills it.
    static let columns: [(name: String, field: @Sendable (LeaveWrite) -> Field)] = [
        ("room_id", { .value(.string($0.event.roomID)) }),
        ("event_id", { .value(.string($0.event.eventID)) }),
        ("type", { .value(.string($0.event.type)) }),
        ("state_key", { .value($0.event.stateKey.map(JSONValue.string) ?? .null) }),
        ("sender", { .value(.string($0.event.sender)) }),
        ("depth", { .value(.integer($0.event.depth)) }),
        ("origin_server_ts", { .value(.integer($0.event.originServerTS)) }),
        ("membership", { .value($0.event.membership.map(JSONValue.string) ?? .null) }),
        ("prev_events", { .value(.array($0.event.prevEvents.map(JSONValue.string))) }),
        ("auth_events", { .value(.array($0.event.authEvents.map(JSONValue.string))) }),
        ("pdu", { .utf8String($0.event.pdu) }),
        ("expected_membership", { .value($0.expectedMembership.map(JSONValue.string) ?? .null) }),
    ]

    /// The `store_leaves` argument for these leaves: a JSON array of `leave_input` objects,
    /// written field by field into one buffer (building it as a `JSONValue` first, the PDU as a
    /// `String`, cost ~1 % of a worker's CPU under load).
    static func document(_ writes: [LeaveWrite]) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(writes.reduce(2) { $0 + $1.event.pdu.count + 512 })
        buffer.append(UInt8(ascii: "["))
        for (position, write) in writes.enumerated() {
            if position > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.append(UInt8(ascii: "{"))
            for (index, column) in columns.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONValue.string(column.name).appendCompact(to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                switch column.field(write) {
                case .value(let value): value.appendCompact(to: &buffer)
                case .utf8String(let text): JSONValue.appendString(utf8: text, to: &buffer)
                }
            }
            buffer.append(UInt8(ascii: "}"))
        }
        buffer.append(UInt8(ascii: "]"))
        return String(decoding: buffer, as: UTF8.self)
    }
}
