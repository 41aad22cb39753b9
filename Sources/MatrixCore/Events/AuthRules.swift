/// The authorization rules of room versions 1–12, as pure functions (spec: "Authorization
/// rules" of each room version, in their order; version differences come from
/// ``RoomVersion/authRules``).
///
/// Two entry points match the receipt checks: ``check(_:authEvents:signatures:)`` uses the
/// event's own `auth_events` as the state (and checks that list), ``check(_:against:signatures:)``
/// uses a room state (the state before the event, or the current state).
public enum AuthRules {
    /// Checks `event` against its own `auth_events`.
    ///
    /// `knownEvents` maps event IDs (byte for byte) to events; it must hold every `auth_events`
    /// entry and, in v12, the room's create event (implied by `room_id`, never cited). Extra events
    /// are ignored.
    public static func check(
        _ event: PDU, authEvents knownEvents: [ExactString: AuthEvent], signatures: some AuthSignatureVerifier
    ) throws(AuthError) {
        if event.type.bytesEqual(EventType.create) { return try checkCreate(event) }
        var cited: [AuthEvent] = []
        cited.reserveCapacity(event.authEventIDs.count)
        for id in event.authEventIDs {
            guard let authEvent = knownEvents[ExactString(id)] else { throw .missingAuthEvent(id) }
            cited.append(authEvent)
        }
        let impliedCreate = try impliedCreateEvent(of: event, in: knownEvents)
        var state = try checkAuthEventList(event, cited: cited)
        if let impliedCreate { state[.create] = impliedCreate }
        try checkAgainstState(event, state: AuthState(events: state, version: event.roomVersion), signatures: signatures)
    }

    /// Checks `event` against a room state (the events of the state, by (type, state key)).
    public static func check(
        _ event: PDU, against state: [StateKey: AuthEvent], signatures: some AuthSignatureVerifier
    ) throws(AuthError) {
        if event.type.bytesEqual(EventType.create) { return try checkCreate(event) }
        let version = event.roomVersion
        let create = state[.create].flatMap { $0.isRejected || !$0.pdu.type.bytesEqual(EventType.create) ? nil : $0 }
        if version.roomIDFromCreateEvent {
            guard let create, event.roomID.bytesEqual(RoomVersion.roomID(ofCreateEvent: create.eventID)) else {
                throw .roomIDNotFromCreateEvent(event.roomID ?? "")
            }
        } else if create == nil {
            throw .missingCreateEvent
        }
        try checkAgainstState(event, state: AuthState(events: state, version: version), signatures: signatures)
    }

    /// The state keys whose current events an event must cite in `auth_events` (spec: "Auth
    /// events selection"). Empty for `m.room.create`.
    public static func authEventSelection(
        for type: String, sender: String, stateKey: String?, content: JSONObject, version: RoomVersion
    ) -> [StateKey] {
        guard !type.bytesEqual(EventType.create) else { return [] }
        var keys: [StateKey] = version.createEventInAuthEvents ? [.create] : []
        keys.append(.powerLevels)
        keys.append(.member(sender))
        guard type.bytesEqual(EventType.member), let target = stateKey else { return keys }
        if !target.bytesEqual(sender) { keys.append(.member(target)) }
        let membership = content["membership"]?.stringValue
        if membership.bytesEqual(Membership.join) || membership.bytesEqual(Membership.invite)
            || membership.bytesEqual(Membership.knock)
        {
            keys.append(.joinRules)
        }
        if membership.bytesEqual(Membership.invite),
            let token = content["third_party_invite"]?["signed"]?["token"]?.stringValue
        {
            keys.append(.thirdPartyInvite(token: token))
        }
        if membership.bytesEqual(Membership.join), version.authRules.restrictedJoinRule,
            let authorising = content["join_authorised_via_users_server"]?.stringValue,
            !keys.contains(.member(authorising))
        {
            keys.append(.member(authorising))
        }
        return keys
    }

    /// ``authEventSelection(for:sender:stateKey:content:version:)`` for a parsed event.
    public static func authEventSelection(for event: PDU) -> [StateKey] {
        authEventSelection(
            for: event.type, sender: event.sender, stateKey: event.stateKey, content: event.content,
            version: event.roomVersion)
    }

    /// v12 rule 2: `room_id` must be `!` + the ID of an accepted create event. `nil` before v12.
    private static func impliedCreateEvent(of event: PDU, in knownEvents: [ExactString: AuthEvent]) throws(AuthError)
        -> AuthEvent?
    {
        guard event.roomVersion.roomIDFromCreateEvent else { return nil }
        let roomID = event.roomID ?? ""
        guard roomID.bytesStart(with: "!"),
            let create = knownEvents[ExactString(RoomVersion.createEventID(ofRoom: roomID))], !create.isRejected,
            create.pdu.type.bytesEqual(EventType.create)
        else { throw .roomIDNotFromCreateEvent(roomID) }
        return create
    }

    /// The rules on the `auth_events` list itself (v1–v11 rule 2, v12 rule 3), in the spec's
    /// order. Returns the cited events by state key.
    private static func checkAuthEventList(_ event: PDU, cited: [AuthEvent]) throws(AuthError)
        -> [StateKey: AuthEvent]
    {
        var byKey: [StateKey: AuthEvent] = [:]
        for authEvent in cited {
            guard let key = authEvent.pdu.stateKeyPair else { continue }
            if byKey.updateValue(authEvent, forKey: key) != nil { throw .duplicateAuthEvent(key) }
        }
        let expected = authEventSelection(for: event)
        for authEvent in cited {
            guard let key = authEvent.pdu.stateKeyPair, expected.contains(key) else {
                throw .unexpectedAuthEvent(eventID: authEvent.eventID)
            }
        }
        if let rejected = cited.first(where: \.isRejected) { throw .rejectedAuthEvent(rejected.eventID) }
        if event.roomVersion.createEventInAuthEvents, byKey[.create] == nil { throw .missingCreateEvent }
        if let stranger = cited.first(where: { !$0.pdu.roomID.bytesEqual(event.roomID) }) {
            throw .authEventInOtherRoom(stranger.eventID)
        }
        return byKey
    }
}
