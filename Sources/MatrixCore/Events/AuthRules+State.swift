extension AuthRules {
    /// The rules that read the state, from "m.federate" on (v1–v11 rule 3, v12 rule 4), in the
    /// spec's order.
    static func checkAgainstState(_ event: PDU, state: AuthState, signatures: some AuthSignatureVerifier)
        throws(AuthError)
    {
        let rules = event.roomVersion.authRules
        if let create = state.create?.pdu, create.content["m.federate"] == .bool(false),
            AuthState.domain(of: event.sender) != AuthState.domain(of: create.sender)
        {
            throw .roomNotFederated
        }
        if rules.specialCaseAliases, event.type == EventType.aliases {
            guard let stateKey = event.stateKey, stateKey[...] == AuthState.domain(of: event.sender) else {
                throw .aliasesNotSendersDomain
            }
            return
        }
        if event.type == EventType.member { return try checkMembership(event, state: state, signatures: signatures) }

        let senderMembership = state.membership(of: event.sender)
        guard senderMembership == Membership.join else { throw .senderNotJoined(currentMembership: senderMembership) }
        let power = PowerLevels(state: state)
        let senderPower = try power.userLevel(event.sender)
        if event.type == EventType.thirdPartyInvite {
            guard senderPower >= .level(try power.level(named: "invite", default: 0)) else {
                throw .insufficientPower
            }
            return
        }
        guard .level(try power.sendLevel(eventType: event.type, isState: event.isState)) <= senderPower else {
            throw .insufficientPower
        }
        if let stateKey = event.stateKey, stateKey.hasPrefix("@"), stateKey != event.sender {
            throw .stateKeyIsOtherUser
        }
        if event.type == EventType.powerLevels {
            return try checkPowerLevelsEvent(event, state: state, senderPower: senderPower)
        }
        if rules.redactionRule, event.type == EventType.redaction,
            senderPower < .level(try power.level(named: "redact", default: 50))
        {
            guard let redacts = event.redacts, let ownID = event.explicitEventID,
                AuthState.domain(of: redacts) == AuthState.domain(of: ownID)
            else { throw .redactionNotAllowed }
        }
    }
}
