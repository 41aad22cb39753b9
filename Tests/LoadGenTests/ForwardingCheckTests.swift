@testable import LoadGen
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import XCTest

/// The forwarding count against deliveries made up here, one fault at a time. The room: members
/// on remote1, remote2 and remote3 — remote3's last one left at position 15. @a:remote1.test's
/// leave (position 10) is due to remote2 and remote3; @b:remote2.test's (position 20) to remote1
/// only. Each test starts from every due delivery made once and expects exact counts.
final class ForwardingCheckTests: XCTestCase {
    private static let version = RoomVersion("10")!
    private static let roomID = "!room:resident.test"
    private static let resident = "resident.test"

    private var leaveA: (accepted: AcceptedLeave, pdu: JSONObject)!
    private var leaveB: (accepted: AcceptedLeave, pdu: JSONObject)!
    private var received: [String: [ReceivedTransaction]] = [:]

    override func setUp() async throws {
        leaveA = try Self.leave(of: "@a:remote1.test", depth: 10)
        leaveB = try Self.leave(of: "@b:remote2.test", depth: 20)
        received = [
            "remote1.test": [Self.transaction([leaveB.pdu])],
            "remote2.test": [Self.transaction([leaveA.pdu])],
            "remote3.test": [Self.transaction([leaveA.pdu])],
        ]
    }

    func testEveryDueDeliveryMadeOnceCountsAsExpectedAndNothingElse() {
        XCTAssertEqual(count(), DeliveryCounts(expected: 3))
    }

    func testTheSameEventInTwoTransactionsIsADuplicate() {
        received["remote2.test", default: []].append(Self.transaction([leaveA.pdu]))
        XCTAssertEqual(count(), DeliveryCounts(expected: 3, duplicated: 1))
    }

    func testADeliveryThatNeverArrivedIsMissing() {
        received["remote3.test"] = []
        XCTAssertEqual(count(), DeliveryCounts(expected: 3, missing: 1))
    }

    func testAnEventToAServerItWasNotDueToIsUnexpected() {
        // remote1 is the leaver's own server; remote3 had nobody left in the room at position 20.
        received["remote1.test", default: []].append(Self.transaction([leaveA.pdu]))
        received["remote3.test", default: []].append(Self.transaction([leaveB.pdu]))
        XCTAssertEqual(count(), DeliveryCounts(expected: 3, unexpected: 2))
    }

    func testAnUnhashablePDUIsUnexpected() {
        var pdu = leaveB.pdu
        pdu["depth"] = .nonCanonicalNumber("1.5")
        XCTAssertThrowsError(try EventHashing.eventID(of: pdu, version: Self.version))
        received["remote1.test", default: []].append(Self.transaction([pdu]))
        XCTAssertEqual(count(), DeliveryCounts(expected: 3, unexpected: 1))
    }

    /// A transaction whose signature did not verify, or that verified as another server (origin
    /// compared byte for byte), delivers nothing: its due event is missing, its PDUs counted apart.
    func testUnauthenticatedTransactionsDeliverNothing() {
        received["remote3.test"] = [Self.transaction([leaveA.pdu], authenticated: false)]
        received["remote1.test"] = [Self.transaction([leaveB.pdu], origin: "RESIDENT.test")]
        XCTAssertEqual(count(), DeliveryCounts(expected: 3, missing: 2, unauthenticated: 2))
    }

    private func count() -> DeliveryCounts {
        let facts = RoomFacts(positions: [leaveA.accepted.eventID: 10, leaveB.accepted.eventID: 20],
                              joinedUntil: ["remote1.test": .max, "remote2.test": .max, "remote3.test": 15])
        return ForwardingCheck.count(received: received, accepted: [leaveA.accepted, leaveB.accepted],
                                     rooms: [Self.roomID: facts], version: Self.version, residentServer: Self.resident)
    }

    private static func leave(of userID: String, depth: Int64) throws -> (accepted: AcceptedLeave, pdu: JSONObject) {
        let pdu: JSONObject = [
            "room_id": .string(roomID), "sender": .string(userID), "state_key": .string(userID),
            "type": "m.room.member", "content": ["membership": "leave"], "depth": .integer(depth),
            "origin_server_ts": 1_700_000_000_000, "auth_events": [], "prev_events": [],
        ]
        let eventID = try EventHashing.eventID(of: pdu, version: version)
        return (AcceptedLeave(roomID: roomID, userID: userID, eventID: eventID), pdu)
    }

    private static func transaction(_ pdus: [JSONObject], origin: String = resident,
                                    authenticated: Bool = true) -> ReceivedTransaction {
        ReceivedTransaction(transactionID: "t", origin: origin, isAuthenticated: authenticated, pdus: pdus)
    }
}
