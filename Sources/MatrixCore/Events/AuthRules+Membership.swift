extension AuthRules {
    /// The `m.room.member` rules (v1–v11 rule 4/5, v12 rule 5), in the spec's order.
    static func checkMembership(_ event: PDU, state: AuthState, signatures: some AuthSignatureVerifier)
        throws(AuthError)
    {
        guard let target = event.stateKey, let membership = event.membership else { throw .membershipMissing }
        let rules = event.roomVersion.authRules
        if rules.restrictedJoinRule, let authorising = event.content["join_authorised_via_users_server"] {
            guard let server = authorising.stringValue.flatMap({ UserID($0, historical: true) })?.server,
                signatures.isEvent(event, signedBy: server)
            else { throw .authorisingServerNotSigned }
        }
        switch ExactString(membership) {
        case ExactString(Membership.join):
            try checkJoin(event, target: target, state: state)
        case ExactString(Membership.invite):
            try checkInvite(event, target: target, state: state, signatures: signatures)
        case ExactString(Membership.leave):
            try checkLeave(event, target: target, state: state)
        case ExactString(Membership.ban):
            try checkBan(event, target: target, state: state)
        case ExactString(Membership.knock) where rules.knockJoinRule:
            try checkKnock(event, target: target, state: state)
        default:
            throw .unknownMembership(membership)
        }
    }

    private static func checkJoin(_ event: PDU, target: String, state: AuthState) throws(AuthError) {
        let rules = event.roomVersion.authRules
        if event.prevEventIDs.count == 1, let create = state.create, event.prevEventIDs[0].bytesEqual(create.eventID),
            state.creator.bytesEqual(target)
        {
            return
        }
        guard event.sender.bytesEqual(target) else { throw .senderIsNotTarget }
        let current = state.membership(of: target)
        guard !current.bytesEqual(Membership.ban) else { throw .banned }
        let isInvitedOrJoined = current.bytesEqual(Membership.invite) || current.bytesEqual(Membership.join)
        // No join rules event (or no join_rule in it) reads as "invite".
        let joinRule = state.joinRule ?? JoinRule.invite
        if joinRule.bytesEqual(JoinRule.invite) || (rules.knockJoinRule && joinRule.bytesEqual(JoinRule.knock)) {
            guard isInvitedOrJoined else { throw .joinRuleForbids(state.joinRule) }
        } else if (rules.restrictedJoinRule && joinRule.bytesEqual(JoinRule.restricted))
            || (rules.knockRestrictedJoinRule && joinRule.bytesEqual(JoinRule.knockRestricted))
        {
            if isInvitedOrJoined { return }
            guard let authorising = event.content["join_authorised_via_users_server"]?.stringValue,
                state.membership(of: authorising).bytesEqual(Membership.join)
            else { throw .authorisingUserCannotInvite }
            let power = PowerLevels(state: state)
            guard try power.userLevel(authorising) >= .level(try power.level(named: "invite", default: 0)) else {
                throw .authorisingUserCannotInvite
            }
        } else if !joinRule.bytesEqual(JoinRule.public) {
            throw .joinRuleForbids(state.joinRule)
        }
    }

    private static func checkInvite(
        _ event: PDU, target: String, state: AuthState, signatures: some AuthSignatureVerifier
    ) throws(AuthError) {
        if let thirdPartyInvite = event.content["third_party_invite"] {
            guard !state.membership(of: target).bytesEqual(Membership.ban) else { throw .banned }
            guard case .object(let signed)? = thirdPartyInvite["signed"],
                let mxid = signed["mxid"]?.stringValue, let token = signed["token"]?.stringValue,
                mxid.bytesEqual(target),
                let invite = state.events[.thirdPartyInvite(token: token)]?.pdu,
                invite.sender.bytesEqual(event.sender),
                signatures.isThirdPartyInviteSigned(signed, publicKeys: publicKeys(of: invite))
            else { throw .invalidThirdPartyInvite }
            return
        }
        let senderMembership = state.membership(of: event.sender)
        guard senderMembership.bytesEqual(Membership.join) else { throw .senderNotJoined(currentMembership: senderMembership) }
        let targetMembership = state.membership(of: target)
        guard !targetMembership.bytesEqual(Membership.join), !targetMembership.bytesEqual(Membership.ban) else {
            throw .targetJoinedOrBanned
        }
        let power = PowerLevels(state: state)
        guard try power.userLevel(event.sender) >= .level(try power.level(named: "invite", default: 0)) else {
            throw .insufficientPower
        }
    }

    private static func checkLeave(_ event: PDU, target: String, state: AuthState) throws(AuthError) {
        let current = state.membership(of: event.sender)
        if event.sender.bytesEqual(target) {
            let canLeave =
                current.bytesEqual(Membership.invite) || current.bytesEqual(Membership.join)
                || (event.roomVersion.authRules.knockJoinRule && current.bytesEqual(Membership.knock))
            guard canLeave else { throw .cannotLeave(currentMembership: current) }
            return
        }
        guard current.bytesEqual(Membership.join) else { throw .senderNotJoined(currentMembership: current) }
        let power = PowerLevels(state: state)
        let senderPower = try power.userLevel(event.sender)
        if state.membership(of: target).bytesEqual(Membership.ban),
            senderPower < .level(try power.level(named: "ban", default: 50))
        {
            throw .insufficientPower
        }
        guard senderPower >= .level(try power.level(named: "kick", default: 50)),
            try power.userLevel(target) < senderPower
        else { throw .insufficientPower }
    }

    private static func checkBan(_ event: PDU, target: String, state: AuthState) throws(AuthError) {
        let current = state.membership(of: event.sender)
        guard current.bytesEqual(Membership.join) else { throw .senderNotJoined(currentMembership: current) }
        let power = PowerLevels(state: state)
        let senderPower = try power.userLevel(event.sender)
        guard senderPower >= .level(try power.level(named: "ban", default: 50)),
            try power.userLevel(target) < senderPower
        else { throw .insufficientPower }
    }

    private static func checkKnock(_ event: PDU, target: String, state: AuthState) throws(AuthError) {
        let joinRule = state.joinRule
        let knockable =
            joinRule.bytesEqual(JoinRule.knock)
            || (event.roomVersion.authRules.knockRestrictedJoinRule && joinRule.bytesEqual(JoinRule.knockRestricted))
        guard knockable else { throw .joinRuleForbids(joinRule) }
        guard event.sender.bytesEqual(target) else { throw .senderIsNotTarget }
        let current = state.membership(of: target)
        guard !current.bytesEqual(Membership.ban), !current.bytesEqual(Membership.invite),
            !current.bytesEqual(Membership.join)
        else {
            throw .cannotKnock(currentMembership: current)
        }
    }

    /// The public keys of an `m.room.third_party_invite`: `public_key` and each `public_keys[].public_key`.
    private static func publicKeys(of invite: PDU) -> [String] {
        var keys: [String] = []
        if let key = invite.content["public_key"]?.stringValue { keys.append(key) }
        for entry in invite.content["public_keys"]?.arrayValue ?? [] {
            if let key = entry["public_key"]?.stringValue { keys.append(key) }
        }
        return keys
    }
}
