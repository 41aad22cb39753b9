import MatrixCore
@testable import Storage
import XCTest

/// `store_leaves`' arguments, written field by field: every leave's fields but its PDU come back as
/// they went in when the document is read as JSON (as Postgres' `json_populate_record` reads it);
/// the PDUs go apart, in order, unchanged.
final class LeaveInputTests: XCTestCase {
    func testTheDocumentReadsBackAsTheLeavesFields() throws {
        let pdu = Array(#"{"content":{"membership":"leave","reason":"quote \" backslash \\ tab \u0009 é 🦊"},"type":"m.room.member"}"#.utf8)
        let first = LeaveWrite(event: EventRecord(
            eventID: "$a", roomID: "!r:x", type: "m.room.member", stateKey: "@u:x", sender: "@u:x", depth: 7,
            originServerTS: 1_700_000_000_000, membership: "leave", prevEvents: ["$p1", "$p2"], authEvents: ["$c"], pdu: pdu),
            expectedMembership: "join")
        let second = LeaveWrite(event: EventRecord(
            eventID: "$\u{212A}", roomID: "!r:x", type: "m.room.member", stateKey: nil, sender: "@v:x", depth: -1,
            originServerTS: 0, membership: nil, prevEvents: [], authEvents: [], pdu: Array("{}".utf8)),
            expectedMembership: nil)

        guard case .array(let leaves) = try JSONParser.parse(Array(LeaveInput.document([first, second]).utf8)) else {
            return XCTFail("not a JSON array")
        }
        XCTAssertEqual(leaves.count, 2)
        guard case .object(let one) = leaves[0], case .object(let two) = leaves[1] else { return XCTFail("not objects") }
        XCTAssertEqual(one.members.map(\.key).sorted(), LeaveInput.columns.map(\.name).sorted())
        XCTAssertNil(one["pdu"], "the PDU goes apart")
        XCTAssertEqual(one["prev_events"], .array([.string("$p1"), .string("$p2")]))
        XCTAssertEqual(one["depth"], .integer(7))
        XCTAssertEqual(one["origin_server_ts"], .integer(1_700_000_000_000))
        XCTAssertEqual(one["expected_membership"], .string("join"))
        XCTAssertEqual(two["event_id"], .string("$\u{212A}"))
        XCTAssertEqual(two["state_key"], .null)
        XCTAssertEqual(two["membership"], .null)
        XCTAssertEqual(two["expected_membership"], .null)
        XCTAssertEqual(two["auth_events"], .array([]))
        XCTAssertEqual(LeaveInput.pdus([first, second]).map { Array($0.utf8) }, [pdu, Array("{}".utf8)])
    }

    /// Repeats are found byte for byte, as Postgres' `text` equality finds them: `$K` and `$\u{212A}`
    /// (Kelvin sign) are two event IDs, a composed and a decomposed `é` two state keys.
    func testDistinctComparesEventIDsAndMembersByteForByte() {
        func write(_ eventID: String, room: String = "!r:x", stateKey: String? = "@u:x") -> LeaveWrite {
            LeaveWrite(event: EventRecord(
                eventID: eventID, roomID: room, type: "m.room.member", stateKey: stateKey, sender: stateKey ?? "@u:x",
                depth: 1, originServerTS: 0, membership: "leave", prevEvents: [], authEvents: [], pdu: []),
                expectedMembership: "join")
        }
        XCTAssertTrue(LeaveInput.isDistinct([]))
        XCTAssertTrue(LeaveInput.isDistinct([write("$a"), write("$b", stateKey: "@v:x")]))
        XCTAssertFalse(LeaveInput.isDistinct([write("$a"), write("$a", stateKey: "@v:x")]), "one event twice")
        XCTAssertFalse(LeaveInput.isDistinct([write("$a"), write("$b")]), "one member twice")
        XCTAssertTrue(LeaveInput.isDistinct([write("$a"), write("$b", room: "!s:x")]), "one user in two rooms")
        XCTAssertTrue(LeaveInput.isDistinct([write("$K"), write("$\u{212A}", stateKey: "@v:x")]))
        XCTAssertTrue(LeaveInput.isDistinct([write("$a", stateKey: "@\u{E9}:x"), write("$b", stateKey: "@e\u{301}:x")]))
        XCTAssertFalse(LeaveInput.isDistinct([write("$a", stateKey: nil), write("$b", stateKey: nil)]),
                       "no state key twice in one room: one partition in SQL")
    }
}
