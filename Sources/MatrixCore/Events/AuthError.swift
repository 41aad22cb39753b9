/// Why the authorization rules refuse an event (`403 M_FORBIDDEN` on the request paths; a
/// rejected event on import).
public enum AuthError: Error, Equatable, CustomStringConvertible {
    // m.room.create
    /// A create event with `prev_events`.
    case createHasPrevEvents
    /// v1–v11: the create event's `room_id` domain is not its sender's domain.
    case createRoomDomainMismatch
    /// v12: a create event with a `room_id`.
    case createHasRoomID
    /// `content.room_version` names no known version.
    case createUnknownRoomVersion
    /// v12: `additional_creators` is not an array of valid user IDs.
    case createInvalidAdditionalCreators
    /// v1–v10: the create event has no `content.creator`.
    case createMissingCreator

    // the room and the event's auth_events
    /// An `auth_events` entry is not among the events given to the check.
    case missingAuthEvent(String)
    /// v12: `room_id` is not `!` + the ID of an accepted create event.
    case roomIDNotFromCreateEvent(String)
    /// Two `auth_events` entries have the same (type, state key).
    case duplicateAuthEvent(StateKey)
    /// An `auth_events` entry the auth events selection does not allow for this event.
    case unexpectedAuthEvent(eventID: String)
    /// An `auth_events` entry that was itself rejected.
    case rejectedAuthEvent(String)
    /// v1–v11: no `m.room.create` among the auth events (or in the state).
    case missingCreateEvent
    /// An `auth_events` entry belongs to another room.
    case authEventInOtherRoom(String)
    /// The create event forbids federation (`m.federate` present and not `true`) and the sender is
    /// on another server.
    case roomNotFederated

    // m.room.aliases (v1–v5)
    /// The `state_key` of an `m.room.aliases` event is missing or not the sender's domain.
    case aliasesNotSendersDomain

    // m.room.member
    /// A member event without `state_key` or without a string `content.membership`.
    case membershipMissing
    /// v8+: `join_authorised_via_users_server` is set but that user's server has not signed.
    case authorisingServerNotSigned
    /// A join, or a knock, for another user.
    case senderIsNotTarget
    /// The user is banned.
    case banned
    /// The join rule (`nil`: no join rules event, read as `invite`) does not let this user join.
    case joinRuleForbids(String?)
    /// v8+: a restricted join whose authorising user is missing, not joined or cannot invite.
    case authorisingUserCannotInvite
    /// A third-party invite that does not match, or is not signed for, its `m.room.third_party_invite`.
    case invalidThirdPartyInvite
    /// The invited user is already joined or banned.
    case targetJoinedOrBanned
    /// A self-leave from a membership that cannot leave (only `invite`, `join`, and `knock` in v7+, can).
    case cannotLeave(currentMembership: String?)
    /// A knock from a user who is banned, invited or joined.
    case cannotKnock(currentMembership: String?)
    /// An unknown `membership` value (or `knock` before v7).
    case unknownMembership(String)

    // power
    /// The sender is not joined to the room.
    case senderNotJoined(currentMembership: String?)
    /// The sender's power level is below what the event needs.
    case insufficientPower
    /// A state key that starts with `@` but is not the sender.
    case stateKeyIsOtherUser
    /// A power-levels event, or one in the state, with malformed levels.
    case invalidPowerLevels(String)
    /// v12: a room creator listed in power-level `users`.
    case creatorInPowerLevels(String)
    /// A power-levels change beyond the sender's own power.
    case powerLevelChangeNotAllowed(String)
    /// v1–v2: a redaction by a user below the redact level, of an event from another domain.
    case redactionNotAllowed

    public var description: String {
        switch self {
        case .createHasPrevEvents: return "create event has prev_events"
        case .createRoomDomainMismatch: return "create event's room_id is not on the sender's server"
        case .createHasRoomID: return "create event must not have a room_id"
        case .createUnknownRoomVersion: return "create event names an unknown room version"
        case .createInvalidAdditionalCreators: return "additional_creators is not a list of user IDs"
        case .createMissingCreator: return "create event has no creator"
        case .missingAuthEvent(let id): return "auth event \(id) is not known"
        case .roomIDNotFromCreateEvent(let room): return "room \(room) has no accepted create event"
        case .duplicateAuthEvent(let key): return "duplicate auth event for \(key)"
        case .unexpectedAuthEvent(let id): return "unexpected auth event \(id)"
        case .rejectedAuthEvent(let id): return "auth event \(id) was rejected"
        case .missingCreateEvent: return "no create event in auth events"
        case .authEventInOtherRoom(let id): return "auth event \(id) is in another room"
        case .roomNotFederated: return "room is not federated"
        case .aliasesNotSendersDomain: return "aliases event state_key is not the sender's domain"
        case .membershipMissing: return "member event without state_key or membership"
        case .authorisingServerNotSigned: return "event not signed by the authorising user's server"
        case .senderIsNotTarget: return "cannot change another user's membership this way"
        case .banned: return "user is banned from the room"
        case .joinRuleForbids(let rule): return "join rule \(rule ?? "(none)") does not allow this join"
        case .authorisingUserCannotInvite: return "authorising user cannot invite"
        case .invalidThirdPartyInvite: return "third-party invite is not valid"
        case .targetJoinedOrBanned: return "invited user is joined or banned"
        case .cannotLeave(let current): return "user not in room (membership \(current ?? "none"))"
        case .cannotKnock(let current): return "cannot knock with membership \(current ?? "none")"
        case .unknownMembership(let membership): return "unknown membership \(membership)"
        case .senderNotJoined(let current): return "sender not in room (membership \(current ?? "none"))"
        case .insufficientPower: return "sender's power level is too low"
        case .stateKeyIsOtherUser: return "state_key names another user"
        case .invalidPowerLevels(let reason): return "invalid power levels: \(reason)"
        case .creatorInPowerLevels(let user): return "room creator \(user) listed in power levels"
        case .powerLevelChangeNotAllowed(let key): return "not allowed to change power level \(key)"
        case .redactionNotAllowed: return "not allowed to redact that event"
        }
    }
}
