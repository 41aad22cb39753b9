import MatrixCore

/// A leave to store: the event and the membership it was validated against.
struct LeaveWrite: Sendable {
    let event: EventRecord
    /// nil: the member must have no membership (NULL in SQL).
    let expectedMembership: String?
    /// The member event that membership must still be recorded by; nil: not compared.
    var expectedMembershipEvent: String? = nil
}

/// The one Swift definition of a stored leave's fields: the attributes of the SQL composite type
/// `leave_input` (`sql/0009_forwarding_positions.sql`), which `store_leaves` reads with
/// `json_populate_recordset` — all but the PDU, which goes apart (``pdus(_:)``, `sql/0020`). A new
/// column is one entry here and one attribute there (and one in `store_leaves_input`' row, `sql/0028`).
enum LeaveInput {
    /// Each attribute of `leave_input` but `pdu`, with how a leave fills it.
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
        ("expected_membership", { $0.expectedMembership.map(JSONValue.string) ?? .null }),
        ("expected_membership_event", { $0.expectedMembershipEvent.map(JSONValue.string) ?? .null }),
    ]

    /// The `store_leaves` first argument for these leaves: a JSON array of `leave_input` objects
    /// without their PDUs, written field by field into one buffer.
    static func document(_ writes: [LeaveWrite]) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(2 + 512 * writes.count)
        buffer.append(UInt8(ascii: "["))
        for (position, write) in writes.enumerated() {
            if position > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.append(UInt8(ascii: "{"))
            for (index, column) in columns.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONValue.string(column.name).appendCompact(to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                column.value(write).appendCompact(to: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
        buffer.append(UInt8(ascii: "]"))
        return String(decoding: buffer, as: UTF8.self)
    }

    /// The `store_leaves` second argument: the leaves' PDUs, in order, as the text they are
    /// stored as (a `text[]` parameter, sent in binary: no escaping here, no JSON parse there).
    static func pdus(_ writes: [LeaveWrite]) -> [String] {
        writes.map { String(decoding: $0.event.pdu, as: UTF8.self) }
    }

    /// The `store_leaves` third argument (`sql/0024`): whether no event ID and no (room, member)
    /// occurs twice among the leaves — then `store_leaves` stores them all in one round without
    /// computing rounds. Compared byte for byte, as `text` equality compares them there (a state
    /// key absent twice counts as a repeat, as NULLs share a partition there).
    static func isDistinct(_ writes: [LeaveWrite]) -> Bool {
        var eventIDs: Set<ExactString> = []
        var members: Set<Member> = []
        for write in writes {
            let event = write.event
            guard eventIDs.insert(ExactString(event.eventID)).inserted,
                  members.insert(Member(roomID: ExactString(event.roomID), stateKey: event.stateKey.map { ExactString($0) })).inserted
            else { return false }
        }
        return true
    }

    /// A leave's member: its room and state key, byte for byte.
    private struct Member: Hashable {
        let roomID: ExactString
        let stateKey: ExactString?
    }
}
