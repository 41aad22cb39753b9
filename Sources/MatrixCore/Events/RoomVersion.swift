/// The rules of one Matrix room version. Every difference between the versions "1"…"12" is a
/// field here, and every field is filled in by the one table in `RoomVersionTable.swift`; code
/// elsewhere reads these fields instead of comparing version numbers.
public struct RoomVersion: Sendable, Hashable, CustomStringConvertible {
    /// How an event's ID is obtained.
    public enum EventIDFormat: Sendable, Hashable {
        /// v1–v2: the PDU carries `event_id` (`$opaque:server`), chosen by its creator.
        case explicit
        /// v3: `$` + unpadded standard base64 of the reference hash.
        case base64
        /// v4+: `$` + unpadded URL-safe base64 of the reference hash.
        case urlSafeBase64
    }

    /// How `prev_events` and `auth_events` entries are written.
    public enum ReferenceFormat: Sendable, Hashable {
        /// v1–v2: `[event_id, {"sha256": reference hash}]` pairs.
        case pairs
        /// v3+: bare event IDs.
        case ids
    }

    /// The version identifier, e.g. `"10"`.
    public let id: String
    public let eventIDFormat: EventIDFormat
    public let referenceFormat: ReferenceFormat
    /// Which keys survive redaction (also what the reference hash and signatures cover).
    public let redactionRules: RedactionRules
    /// The authorization-rule variant of this version.
    public let authRules: AuthRuleSet
    /// v6+: floats and integers beyond ±(2^53 − 1) anywhere in an event make it invalid.
    public let strictCanonicalJSON: Bool
    /// v5+: signing keys count only within their validity period.
    public let enforcesKeyValidity: Bool
    /// Largest `depth` an event may carry (2^63 − 1 in v1–v5, 2^53 − 1 in v6+).
    public let maxDepth: Int64
    /// v11+: `m.room.redaction` names its target in `content.redacts` instead of a top-level `redacts`.
    public let redactsInContent: Bool
    /// v12: the room ID is `!` + the create event's ID without `$`; the create event carries no
    /// `room_id` and is never cited in `auth_events` (its ID is implied by `room_id`).
    public let roomIDFromCreateEvent: Bool

    /// Looks up a supported version; `nil` for an unknown identifier.
    public init?(_ id: String) {
        guard let version = RoomVersion.table.first(where: { $0.id.bytesEqual(id) }) else { return nil }
        self = version
    }

    init(
        id: String, eventIDFormat: EventIDFormat, referenceFormat: ReferenceFormat,
        redactionRules: RedactionRules, authRules: AuthRuleSet, strictCanonicalJSON: Bool,
        enforcesKeyValidity: Bool, maxDepth: Int64, redactsInContent: Bool, roomIDFromCreateEvent: Bool
    ) {
        self.id = id
        self.eventIDFormat = eventIDFormat
        self.referenceFormat = referenceFormat
        self.redactionRules = redactionRules
        self.authRules = authRules
        self.strictCanonicalJSON = strictCanonicalJSON
        self.enforcesKeyValidity = enforcesKeyValidity
        self.maxDepth = maxDepth
        self.redactsInContent = redactsInContent
        self.roomIDFromCreateEvent = roomIDFromCreateEvent
    }

    /// Every supported version, "1" to "12".
    public static var supported: [RoomVersion] { table }

    /// v1–v11: events cite the create event in `auth_events` (v12: never).
    public var createEventInAuthEvents: Bool { !roomIDFromCreateEvent }
    /// v7+: `knock` membership and join rule.
    public var knock: Bool { authRules.knockJoinRule }
    /// v8+: `restricted` join rule and `join_authorised_via_users_server`.
    public var restricted: Bool { authRules.restrictedJoinRule }
    /// v10+: power levels must be JSON integers (no numeric strings).
    public var integerPowerLevels: Bool { authRules.integerPowerLevels }

    public var description: String { "room version \(id)" }
}

/// Which keys redaction keeps, as flags per room version (spec tables 6.1 and 6.2 of
/// events-and-room-versions.md).
public struct RedactionRules: Sendable, Hashable {
    /// The spec's name for this rule set ("v1", "v6", "v8", "v9", "v11").
    public let name: String
    /// v1–v10: top-level `prev_state`, `origin`, `membership` survive.
    public let keepsLegacyTopLevelKeys: Bool
    /// v1–v5: `m.room.aliases` keeps `aliases`.
    public let keepsAliases: Bool
    /// v8+: `m.room.join_rules` keeps `allow`.
    public let keepsJoinRulesAllow: Bool
    /// v9+: `m.room.member` keeps `join_authorised_via_users_server`.
    public let keepsJoinAuthorisedVia: Bool
    /// v11+: `m.room.create` keeps all of its content.
    public let keepsAllCreateContent: Bool
    /// v11+: `m.room.power_levels` keeps `invite`.
    public let keepsPowerLevelsInvite: Bool
    /// v11+: `m.room.redaction` keeps `content.redacts`.
    public let keepsRedactionRedacts: Bool
    /// v11+: `m.room.member` keeps `third_party_invite`, reduced to its `signed` member.
    public let keepsThirdPartyInviteSigned: Bool
}

/// The authorization-rule differences between room versions, as flags.
public struct AuthRuleSet: Sendable, Hashable {
    /// The spec's name for this variant ("v1", "v3", "v6", "v7", "v8", "v10", "v11", "v12").
    public let name: String
    /// v1–v2: `m.room.redaction` needs the redact level or the same event-ID domain.
    public let redactionRule: Bool
    /// v1–v5: `m.room.aliases` is allowed when `state_key` is the sender's domain.
    public let specialCaseAliases: Bool
    /// v6+: changes to `notifications` power levels are checked like `events`.
    public let limitNotificationsPowerLevels: Bool
    /// v7+: `knock` membership and join rule.
    public let knockJoinRule: Bool
    /// v8+: `restricted` join rule and `join_authorised_via_users_server`.
    public let restrictedJoinRule: Bool
    /// v10+: `knock_restricted` join rule.
    public let knockRestrictedJoinRule: Bool
    /// v10+: power levels must be JSON integers; v1–v9 also accept numeric strings.
    public let integerPowerLevels: Bool
    /// v11+: the creator is the create event's `sender` (v1–v10: `content.creator`, which is required).
    public let creatorIsSender: Bool
    /// v12: room creators (create `sender` + `additional_creators`) have infinite power and may
    /// not appear in power-level `users`.
    public let privilegedCreators: Bool
}

extension RoomVersion {
    /// v12: the ID of a room's create event, `$` + the room ID without `!`.
    public static func createEventID(ofRoom roomID: String) -> String {
        var id = "$"
        id.append(contentsOf: Substring(roomID.utf8.dropFirst()))  // the sigil byte, not a Character
        return id
    }

    /// v12: the room ID a create event defines, `!` + its event ID without `$`.
    public static func roomID(ofCreateEvent eventID: String) -> String {
        var id = "!"
        id.append(contentsOf: Substring(eventID.utf8.dropFirst()))  // the sigil byte, not a Character
        return id
    }
}
