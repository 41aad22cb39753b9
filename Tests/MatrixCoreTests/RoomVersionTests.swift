import MatrixCore
import XCTest

/// The rule table against the spec's room-version table (events-and-room-versions.md §1).
final class RoomVersionTests: XCTestCase {
    private func version(_ id: String) throws -> RoomVersion { try XCTUnwrap(RoomVersion(id), "version \(id)") }

    func testVersionsOneToTwelveAreKnownAndNothingElse() throws {
        XCTAssertEqual(RoomVersion.supported.map(\.id), (1...12).map(String.init))
        for unknown in ["0", "13", "", "01", "1.0", " 1", "org.matrix.msc4291", "v1"] {
            XCTAssertNil(RoomVersion(unknown), unknown)
        }
        XCTAssertEqual(try version("7").id, "7")
    }

    func testEventIDAndReferenceFormats() throws {
        for id in ["1", "2"] {
            XCTAssertEqual(try version(id).eventIDFormat, .explicit)
            XCTAssertEqual(try version(id).referenceFormat, .pairs)
        }
        XCTAssertEqual(try version("3").eventIDFormat, .base64)
        for id in 3...12 { XCTAssertEqual(try version(String(id)).referenceFormat, .ids) }
        for id in 4...12 { XCTAssertEqual(try version(String(id)).eventIDFormat, .urlSafeBase64) }
    }

    func testRedactionRuleSets() throws {
        let expected = ["v1", "v1", "v1", "v1", "v1", "v6", "v6", "v8", "v9", "v9", "v11", "v11"]
        XCTAssertEqual(RoomVersion.supported.map(\.redactionRules.name), expected)
    }

    func testAuthRuleVariants() throws {
        let expected = ["v1", "v1", "v3", "v3", "v3", "v6", "v7", "v8", "v8", "v10", "v11", "v12"]
        XCTAssertEqual(RoomVersion.supported.map(\.authRules.name), expected)
    }

    func testFeatureFlagsByVersion() throws {
        let all = RoomVersion.supported
        func from(_ first: Int) -> [Bool] { (1...12).map { $0 >= first } }
        XCTAssertEqual(all.map(\.enforcesKeyValidity), from(5))
        XCTAssertEqual(all.map(\.strictCanonicalJSON), from(6))
        XCTAssertEqual(all.map(\.authRules.limitNotificationsPowerLevels), from(6))
        XCTAssertEqual(all.map(\.knock), from(7))
        XCTAssertEqual(all.map(\.restricted), from(8))
        XCTAssertEqual(all.map(\.authRules.knockRestrictedJoinRule), from(10))
        XCTAssertEqual(all.map(\.integerPowerLevels), from(10))
        XCTAssertEqual(all.map(\.authRules.creatorIsSender), from(11))
        XCTAssertEqual(all.map(\.redactsInContent), from(11))
        XCTAssertEqual(all.map(\.roomIDFromCreateEvent), from(12))
        XCTAssertEqual(all.map(\.authRules.privilegedCreators), from(12))
        XCTAssertEqual(all.map(\.createEventInAuthEvents), from(12).map { !$0 })
        XCTAssertEqual(all.map(\.authRules.specialCaseAliases), from(6).map { !$0 })
        XCTAssertEqual(all.map(\.authRules.redactionRule), from(3).map { !$0 })
    }

    func testMaximumDepth() throws {
        for id in 1...5 { XCTAssertEqual(try version(String(id)).maxDepth, Int64.max) }
        for id in 6...12 { XCTAssertEqual(try version(String(id)).maxDepth, 9_007_199_254_740_991) }
    }

    func testV12RoomIDAndCreateEventIDAreEachOther() {
        let eventID = "$xRklhWfePUyH6mEJVBLrBLu82Dm6FWTwrsdhWmWrRtI"
        let roomID = RoomVersion.roomID(ofCreateEvent: eventID)
        XCTAssertEqual(roomID, "!xRklhWfePUyH6mEJVBLrBLu82Dm6FWTwrsdhWmWrRtI")
        XCTAssertEqual(RoomVersion.createEventID(ofRoom: roomID), eventID)
    }
}
