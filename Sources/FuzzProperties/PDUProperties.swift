import MatrixCore
import MatrixCrypto

/// PDU validation, hashing, redaction and the auth rules on one room version. Input: a selector
/// byte (room version `1 + byte % 12`) then the JSON of a PDU. For every event the version's
/// format accepts: its size, depth and reference counts are within bounds; its content hash, its
/// reference hash and its event ID can be computed (whatever is accepted can be hashed, signed
/// and forwarded), the ID is a valid event ID; redaction is idempotent, keeps only members the
/// event had, and leaves a valid PDU; the auth rules (against the vector room's state and against
/// its `auth_events`) give an answer, and let a self-leave through only from a membership the
/// version allows to leave.
enum PDUProperties {
    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        guard let selector = input.first else { return }
        let rooms = VectorRoom.all
        let room = rooms[Int(selector) % rooms.count]
        guard case .object(let json)? = try? JSONParser.parse(input.dropFirst()),
            let pdu = try? PDU(json: json, roomVersion: room.version)
        else { return }
        let label = "\(room.version) \(quoted(input.dropFirst()))"
        try checkFormat(pdu, label: label)
        try checkHashes(pdu, label: label)
        try checkRedaction(pdu, label: label)
        try checkAuthRules(pdu, room: room, label: label)
    }

    private static func checkFormat(_ pdu: PDU, label: String) throws(PropertyViolation) {
        let size = pdu.json.removing("unsigned").compactBytes().count
        try PropertyViolation.expect(size <= PDU.maxBytes, "accepted \(size) bytes: \(label)")
        try PropertyViolation.expect(pdu.depth >= 0 && pdu.depth <= pdu.roomVersion.maxDepth, "accepted depth \(pdu.depth): \(label)")
        try PropertyViolation.expect(
            pdu.prevEventIDs.count <= PDU.maxPrevEvents && pdu.authEventIDs.count <= PDU.maxAuthEvents,
            "accepted \(pdu.prevEventIDs.count)/\(pdu.authEventIDs.count) references: \(label)")
        for field in [pdu.type, pdu.sender, pdu.roomID ?? "", pdu.stateKey ?? ""] {
            try PropertyViolation.expect(field.utf8.count <= PDU.maxIdentifierBytes, "accepted a long member: \(label)")
        }
        try PropertyViolation.expect(UserID(pdu.sender) != nil, "accepted sender \(pdu.sender.debugDescription)")
        if pdu.roomVersion.strictCanonicalJSON {
            do { _ = try pdu.json.removing("unsigned").canonicalBytes() } catch {
                throw PropertyViolation("accepted in a strict version but not canonical (\(error)): \(label)")
            }
        }
    }

    private static func checkHashes(_ pdu: PDU, label: String) throws(PropertyViolation) {
        let version = pdu.roomVersion
        do {
            _ = try EventHashing.contentHash(of: pdu.json, version: version)
            _ = try EventHashing.referenceHash(of: pdu.json, version: version)
        } catch {
            throw PropertyViolation("accepted but not hashable (\(error)): \(label)")
        }
        let eventID: String
        do { eventID = try EventHashing.eventID(of: pdu.json, version: version) } catch {
            throw PropertyViolation("accepted without an event ID (\(error)): \(label)")
        }
        try PropertyViolation.expect(EventID(eventID) != nil, "event ID \(eventID.debugDescription) invalid: \(label)")
    }

    private static func checkRedaction(_ pdu: PDU, label: String) throws(PropertyViolation) {
        let version = pdu.roomVersion
        let redacted = Redaction.redact(pdu.json, version: version)
        try PropertyViolation.expect(Redaction.redact(redacted, version: version) == redacted, "redaction not idempotent: \(label)")
        for key in redacted.keys where key != "content" {
            try PropertyViolation.expect(pdu.json[key] != nil, "redaction added \(key.debugDescription): \(label)")
        }
        do { _ = try PDU(json: redacted, roomVersion: version) } catch {
            throw PropertyViolation("redacted copy refused (\(error)): \(label)")
        }
    }

    private static func checkAuthRules(_ pdu: PDU, room: VectorRoom, label: String) throws(PropertyViolation) {
        let againstState = Result { () throws(AuthError) in
            try AuthRules.check(pdu, against: room.state, signatures: NoValidSignatures())
        }
        _ = Result { () throws(AuthError) in
            try AuthRules.check(pdu, authEvents: room.events, signatures: NoValidSignatures())
        }
        guard case .success = againstState, pdu.membership == Membership.leave,
            let stateKey = pdu.stateKey, stateKey.utf8.elementsEqual(pdu.sender.utf8)
        else { return }
        let current = room.state[.member(pdu.sender)]?.pdu.membership
        let mayLeave = current == Membership.join || current == Membership.invite
            || (current == Membership.knock && pdu.roomVersion.knock)
        try PropertyViolation.expect(mayLeave, "self-leave from \(current ?? "no membership") accepted: \(label)")
    }
}

/// Signature answers for the auth rules when no key is known: nothing verifies.
private struct NoValidSignatures: AuthSignatureVerifier {
    func isEvent(_ event: PDU, signedBy server: String) -> Bool { false }
    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool { false }
}
