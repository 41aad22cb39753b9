/// The event types the room-version rules treat specially.
public enum EventType {
    public static let create = "m.room.create"
    public static let member = "m.room.member"
    public static let powerLevels = "m.room.power_levels"
    public static let joinRules = "m.room.join_rules"
    public static let historyVisibility = "m.room.history_visibility"
    public static let thirdPartyInvite = "m.room.third_party_invite"
    public static let serverACL = "m.room.server_acl"
    public static let aliases = "m.room.aliases"
    public static let redaction = "m.room.redaction"
}

/// The values of `content.membership`.
public enum Membership {
    public static let join = "join"
    public static let invite = "invite"
    public static let leave = "leave"
    public static let ban = "ban"
    public static let knock = "knock"
}

/// The values of `content.join_rule`.
public enum JoinRule {
    public static let `public` = "public"
    public static let invite = "invite"
    public static let knock = "knock"
    public static let restricted = "restricted"
    public static let knockRestricted = "knock_restricted"
}
