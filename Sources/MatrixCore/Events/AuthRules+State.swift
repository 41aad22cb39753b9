extension AuthRules {
    /// The rules that read the state, from "m.federate" on (v1–v11 rule 3, v12 rule 4), in the
    /// spec's order.
    static func checkAgainstState(_ event: PDU, state: AuthState, signatures: some AuthSignatureVerifier)
        throws(AuthError)
    {
        let rules = event.roomVersion.authRules
        // Federated only when `m.federate` is absent or true: Synapse (`_can_federate`: `content.get(
        // "m.federate", True) is True`) refuses a room whose create event says "false", 0 or null too.
        if let create = state.create?.pdu, let federate = create.content["m.federate"], federate != .bool(true),
            !AuthState.sameDomain(event.sender, create.sender)
        {
            throw .roomNotFederated
        }
        if rules.specialCaseAliases, event.type.bytesEqual(EventType.aliases) {
            guard let stateKey = event.stateKey, stateKey.bytesEqual(AuthState.domain(of: event.sender)) else {
                throw .aliasesNotSendersDomain
            }
            return
        }
        if event.type.bytesEqual(EventType.member) { return try checkMembership(event, state: state, signatures: signatures) }

        let senderMembership = state.membership(of: event.sender)
        guard senderMembership.bytesEqual(Membership.join) else { throw .senderNotJoined(currentMembership: senderMembership) }
        let power = PowerLevels(state: state)
        let senderPower = try power.userLevel(event.sender)
        if event.type.bytesEqual(EventType.thirdPartyInvite) {
            guard senderPower >= .level(try power.level(named: "invite", default: 0)) else {
                throw .insufficientPower
            }
            return
        }
        guard .level(try power.sendLevel(eventType: event.type, isState: event.isState)) <= senderPower else {
            throw .insufficientPower
        }
        if let stateKey = event.stateKey, stateKey.bytesStart(with: "@"), !stateKey.bytesEqual(event.sender) {
            throw .stateKeyIsOtherUser
        }
        if event.type.bytesEqual(EventType.powerLevels) {
            return try checkPowerLevelsEvent(event, state: state, senderPower: senderPower)
        }
        if rules.redactionRule, event.type.bytesEqual(EventType.redaction),
            senderPower < .level(try power.level(named: "redact", default: 50))
        {
            guard let redacts = event.redacts, let ownID = event.explicitEventID,
                AuthState.sameDomain(redacts, ownID)
            else { throw .redactionNotAllowed }
        }
    }
}
