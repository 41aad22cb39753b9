import MatrixCore

/// A user a ``RoomBuilder`` puts in the room, and the membership they end with.
public struct PlannedMember: Sendable, Hashable {
    /// The membership a planned member ends with, and how it comes about.
    public enum Membership: String, Sendable, Hashable, CaseIterable {
        /// The user joins (signed by the user's server).
        case join
        /// The room's admin invites the user (signed by the resident server).
        case invite
        /// The user knocks (v7+; the join rule is switched to `knock` before the first knock).
        case knock
        /// The room's admin bans the user.
        case ban
        /// The user joins, then leaves.
        case leave
    }

    public let userID: String
    public let membership: Membership

    public init(userID: String, membership: Membership) {
        self.userID = userID
        self.membership = membership
    }

    /// The server of ``userID`` (empty if it is not a user ID).
    public var server: String { UserID(userID)?.server ?? "" }

    /// `count` members with `membership`, spread round-robin over `servers`, with localparts
    /// `<prefix><n>` for n = `firstIndex` … (e.g. `@joined7:remote1.test`).
    public static func generate(count: Int, membership: Membership, servers: [String],
                                localpartPrefix: String? = nil, firstIndex: Int = 1) -> [PlannedMember] {
        guard !servers.isEmpty, count > 0 else { return [] }
        let prefix = localpartPrefix ?? membership.defaultLocalpartPrefix
        return (0..<count).map { offset in
            let index = firstIndex + offset
            return PlannedMember(userID: "@\(prefix)\(index):\(servers[offset % servers.count])", membership: membership)
        }
    }
}

extension PlannedMember.Membership {
    /// The localpart prefix ``PlannedMember/generate(count:membership:servers:localpartPrefix:firstIndex:)`` uses.
    var defaultLocalpartPrefix: String {
        switch self {
        case .join: "joined"
        case .invite: "invited"
        case .knock: "knocking"
        case .ban: "banned"
        case .leave: "left"
        }
    }
}
