import MatrixCore
import MatrixCrypto

/// Builds a complete, correctly hashed and signed room of any room version 1–12: the create event
/// and the admin's join by the resident server (the worker's own key), power levels, public join
/// rules, history visibility, optionally a server ACL, then the planned members — joins signed by
/// each member's server; invites and bans by the admin; for knocks (v7+) the join rule switched to
/// `knock` first. Each event cites the auth events its version's rules select from the state
/// before it, and the previous event as its only `prev_events` entry.
public struct RoomBuilder: Sendable {
    public var version: RoomVersion
    /// The server that creates the room (the worker's server name and signing key).
    public var resident: EventSigner
    /// The servers the members live on (a member of the resident server is signed by ``resident``).
    public var remotes: [EventSigner]
    public var members: [PlannedMember]
    /// The admin's localpart, on the resident server.
    public var adminLocalpart: String
    /// The room ID's localpart in v1–v11 (`!<localpart>:<resident>`); v12 room IDs come from the create event.
    public var roomLocalpart: String
    /// Content of an `m.room.server_acl` event, or nil for none.
    public var serverACL: JSONObject?
    /// `origin_server_ts` of the create event; each later event is 1 ms later. Two v12 rooms built
    /// with the same admin and timestamp are the same room: vary this to get distinct v12 rooms.
    public var firstTimestamp: Int64

    public init(version: RoomVersion, resident: EventSigner, remotes: [EventSigner], members: [PlannedMember],
                adminLocalpart: String = "admin", roomLocalpart: String = "room", serverACL: JSONObject? = nil,
                firstTimestamp: Int64 = 1_700_000_000_000) {
        self.version = version
        self.resident = resident
        self.remotes = remotes
        self.members = members
        self.adminLocalpart = adminLocalpart
        self.roomLocalpart = roomLocalpart
        self.serverACL = serverACL
        self.firstTimestamp = firstTimestamp
    }

    public var adminUserID: String { "@\(adminLocalpart):\(resident.serverName)" }

    public func build() throws(RoomBuildError) -> BuiltRoom {
        let signers = try signersByServer()
        if !version.knock, let knocker = members.first(where: { $0.membership == .knock }) {
            throw .knockUnsupported(version: version.id, userID: knocker.userID)
        }
        var room = RoomAssembly(
            version: version, label: roomLocalpart,
            roomID: version.roomIDFromCreateEvent ? nil : "!\(roomLocalpart):\(resident.serverName)",
            timestamp: firstTimestamp)
        room.reserve(events: 6 + members.count * 2)
        let admin = adminUserID
        try room.append(RoomContent.create(creator: admin, version: version), type: "m.room.create",
                        stateKey: "", sender: admin, signer: resident)
        try room.append(RoomContent.membership("join"), type: "m.room.member", stateKey: admin, sender: admin,
                        signer: resident)
        try room.append(RoomContent.powerLevels(admin: admin, version: version), type: "m.room.power_levels",
                        stateKey: "", sender: admin, signer: resident)
        try room.append(RoomContent.joinRule("public"), type: "m.room.join_rules", stateKey: "", sender: admin,
                        signer: resident)
        try room.append(["history_visibility": "shared"], type: "m.room.history_visibility", stateKey: "",
                        sender: admin, signer: resident)
        if let serverACL {
            try room.append(serverACL, type: "m.room.server_acl", stateKey: "", sender: admin, signer: resident)
        }
        for member in members where member.membership != .knock {
            let signer = signers[member.server] ?? resident
            switch member.membership {
            case .join, .leave:
                try room.append(RoomContent.membership("join"), type: "m.room.member", stateKey: member.userID,
                                sender: member.userID, signer: signer)
                if member.membership == .leave {
                    try room.append(RoomContent.membership("leave"), type: "m.room.member",
                                    stateKey: member.userID, sender: member.userID, signer: signer)
                }
            case .invite, .ban:
                try room.append(RoomContent.membership(member.membership.rawValue), type: "m.room.member",
                                stateKey: member.userID, sender: admin, signer: resident)
            case .knock:
                break
            }
        }
        let knockers = members.filter { $0.membership == .knock }
        if !knockers.isEmpty {
            try room.append(RoomContent.joinRule("knock"), type: "m.room.join_rules", stateKey: "", sender: admin,
                            signer: resident)
            for member in knockers {
                try room.append(RoomContent.membership("knock"), type: "m.room.member", stateKey: member.userID,
                                sender: member.userID, signer: signers[member.server] ?? resident)
            }
        }
        return BuiltRoom(assembly: room, adminUserID: admin)
    }

    /// The signer of every member's server; throws for a member whose server has none.
    private func signersByServer() throws(RoomBuildError) -> [String: EventSigner] {
        var signers: [String: EventSigner] = [resident.serverName: resident]
        for remote in remotes { signers[remote.serverName] = remote }
        for member in members {
            guard UserID(member.userID) != nil else { throw .invalidUserID(member.userID) }
            guard signers[member.server] != nil else { throw .noKeyForServer(userID: member.userID) }
        }
        return signers
    }
}

/// Why a room could not be built.
public enum RoomBuildError: Error, Equatable, CustomStringConvertible {
    case invalidUserID(String)
    /// A member lives on a server that is neither the resident nor one of the remotes.
    case noKeyForServer(userID: String)
    /// Knocking needs room version 7 or later.
    case knockUnsupported(version: String, userID: String)
    /// An event could not be written as canonical JSON (an out-of-range number in given content).
    case nonCanonicalContent(String)

    public var description: String {
        switch self {
        case .invalidUserID(let userID): return "not a user ID: \(userID)"
        case .noKeyForServer(let userID): return "no signing key for the server of \(userID)"
        case .knockUnsupported(let version, let userID):
            return "\(userID) cannot knock: room version \(version) has no knocking"
        case .nonCanonicalContent(let reason): return "event content is not canonical JSON: \(reason)"
        }
    }
}
