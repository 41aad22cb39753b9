import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import XCTest

/// Rooms built for every room version re-verify with the project's own hashing, signing and
/// authorization code: every event's format, content hash, ID, signatures, auth events and auth
/// rules (against its auth events and against the state before it).
final class RoomBuilderTests: XCTestCase {
    private let resident = EventSigner(serverName: "resident.test", key: try! SigningKey.generate(version: "rs"))
    private let remoteOne = EventSigner(serverName: "one.remote.test", key: try! SigningKey.generate(version: "r1"))
    private let remoteTwo = EventSigner(serverName: "two.remote.test:8448", key: try! SigningKey.generate(version: "r2"))

    private func plannedMembers(knock: Bool) -> [PlannedMember] {
        let servers = [remoteOne.serverName, remoteTwo.serverName]
        var members = PlannedMember.generate(count: 5, membership: .join, servers: servers)
        members += PlannedMember.generate(count: 2, membership: .invite, servers: servers)
        members += PlannedMember.generate(count: 2, membership: .ban, servers: servers)
        members += PlannedMember.generate(count: 1, membership: .leave, servers: servers)
        members.append(PlannedMember(userID: "@local:resident.test", membership: .join))
        if knock { members += PlannedMember.generate(count: 2, membership: .knock, servers: servers) }
        return members
    }

    func testEveryVersionBuildsARoomThatReverifiesEventByEvent() throws {
        for version in RoomVersion.supported {
            let members = plannedMembers(knock: version.knock)
            let builder = RoomBuilder(version: version, resident: resident, remotes: [remoteOne, remoteTwo],
                                      members: members, roomLocalpart: "r\(version.id)",
                                      serverACL: ["allow": ["*"], "deny": ["evil.test"], "allow_ip_literals": false])
            let room = try builder.build()
            try RoomVerifier(room: room, signers: [resident, remoteOne, remoteTwo]).verify()

            XCTAssertEqual(room.members[room.adminUserID]?.membership, "join", "v\(version.id)")
            for member in members {
                XCTAssertEqual(room.members[member.userID]?.membership, member.membership.rawValue,
                               "v\(version.id) \(member.userID)")
            }
            XCTAssertEqual(room.state[.serverACL].flatMap { room.event($0)?.pdu["content"]?["deny"] }, ["evil.test"])
            // 6 initial events (with the ACL), one per member, one more for the leaver's join,
            // and for knocks the join-rule switch.
            let expectedCount = 6 + members.count + 1 + (version.knock ? 1 : 0)
            XCTAssertEqual(room.events.count, expectedCount, "v\(version.id)")
            XCTAssertEqual(room.forwardExtremity, room.events.last?.eventID)
            XCTAssertEqual(room.importDocument["room_version"], .string(version.id))
        }
    }

    func testLeaveTemplatesSignedByTheMembersServerPassTheAuthRulesExactlyWhenTheMembershipAllows() throws {
        for version in RoomVersion.supported {
            let members = plannedMembers(knock: version.knock)
            let room = try RoomBuilder(version: version, resident: resident, remotes: [remoteOne, remoteTwo],
                                       members: members, roomLocalpart: "l\(version.id)").build()
            let verifier = RoomVerifier(room: room, signers: [resident, remoteOne, remoteTwo])
            for member in members where member.server != resident.serverName {
                let signer = member.server == remoteOne.serverName ? remoteOne : remoteTwo
                let template = room.leaveTemplate(userID: member.userID, originServerTS: 1_800_000_000_000)
                XCTAssertEqual(template["depth"], .integer(Int64(room.events.count + 1)))
                let leave = try signer.signLeave(template: template, version: version, roomID: room.roomID,
                                                 userID: member.userID)
                let mayLeave = [.join, .invite, .knock].contains(member.membership)
                XCTAssertEqual(verifier.isAuthorised(leave), mayLeave, "v\(version.id) \(member.userID) \(member.membership)")
            }
        }
    }

    func testRoomIDsFollowTheVersion() throws {
        for version in RoomVersion.supported {
            let room = try RoomBuilder(version: version, resident: resident, remotes: [], members: [],
                                       roomLocalpart: "ids").build()
            let create = try XCTUnwrap(room.events.first)
            if version.roomIDFromCreateEvent {
                XCTAssertEqual(room.roomID, "!" + create.eventID.dropFirst())
                XCTAssertNil(create.pdu["room_id"])
            } else {
                XCTAssertEqual(room.roomID, "!ids:resident.test")
                XCTAssertEqual(create.pdu["room_id"], "!ids:resident.test")
            }
            switch version.eventIDFormat {
            case .explicit:
                XCTAssertEqual(create.eventID, "$1-ids:resident.test")
                XCTAssertEqual(create.pdu["event_id"]?.stringValue, create.eventID)
            case .base64, .urlSafeBase64:
                XCTAssertNil(create.pdu["event_id"])
                XCTAssertEqual(create.eventID.utf8.count, 44)
            }
            XCTAssertEqual(RoomID(room.roomID)?.text, room.roomID)
        }
    }

    func testRefusesMembersItCannotSignAndKnocksBeforeVersion7() throws {
        let stranger = [PlannedMember(userID: "@x:unknown.test", membership: .join)]
        XCTAssertThrowsError(try RoomBuilder(version: RoomVersion("10")!, resident: resident, remotes: [],
                                             members: stranger).build()) {
            XCTAssertEqual($0 as? RoomBuildError, .noKeyForServer(userID: "@x:unknown.test"))
        }
        let knocker = [PlannedMember(userID: "@k:one.remote.test", membership: .knock)]
        XCTAssertThrowsError(try RoomBuilder(version: RoomVersion("6")!, resident: resident, remotes: [remoteOne],
                                             members: knocker).build()) {
            XCTAssertEqual($0 as? RoomBuildError, .knockUnsupported(version: "6", userID: "@k:one.remote.test"))
        }
        let invalid = [PlannedMember(userID: "not-a-user", membership: .join)]
        XCTAssertThrowsError(try RoomBuilder(version: RoomVersion("10")!, resident: resident, remotes: [],
                                             members: invalid).build()) {
            XCTAssertEqual($0 as? RoomBuildError, .invalidUserID("not-a-user"))
        }
    }

    func testLargeRoomsBuild() throws {
        let members = PlannedMember.generate(count: 1500, membership: .join,
                                             servers: [remoteOne.serverName, remoteTwo.serverName])
        let room = try RoomBuilder(version: RoomVersion("10")!, resident: resident, remotes: [remoteOne, remoteTwo],
                                   members: members).build()
        XCTAssertEqual(room.events.count, 5 + 1500)
        XCTAssertEqual(room.users(withMembership: "join").count, 1501)
        XCTAssertEqual(Set(room.events.map(\.eventID)).count, room.events.count)
        let parsed = try JSONParser.parse(room.importBytes())
        XCTAssertEqual(parsed["events"]?.arrayValue?.count, room.events.count)
    }

    func testDistinctTimestampsGiveDistinctV12Rooms() throws {
        let version = RoomVersion("12")!
        let first = try RoomBuilder(version: version, resident: resident, remotes: [], members: [],
                                    firstTimestamp: 1).build()
        let same = try RoomBuilder(version: version, resident: resident, remotes: [], members: [],
                                   firstTimestamp: 1).build()
        let other = try RoomBuilder(version: version, resident: resident, remotes: [], members: [],
                                    firstTimestamp: 2).build()
        XCTAssertEqual(first.roomID, same.roomID)
        XCTAssertNotEqual(first.roomID, other.roomID)
    }
}
