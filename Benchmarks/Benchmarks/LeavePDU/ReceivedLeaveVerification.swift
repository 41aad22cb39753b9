import MatrixCore
import MatrixCrypto

/// The pure work the worker does on a received send_leave body, in its order (see
/// `LeaveService.sendLeave`), with the room's state already in memory instead of read from
/// Postgres: parse once → PDU format checks → redacted signing bytes → event ID against the path
/// → leave shape, sender's server, server ACL → the origin's Ed25519 signature → content hash
/// → auth rules against the cited auth events and the current state.
struct ReceivedLeaveVerification {
    let fixture: LeaveFixture
    /// The origin's public keys by key ID (a warm key cache).
    let originKeys: [String: Ed25519PublicKey]

    init(fixture: LeaveFixture) {
        self.fixture = fixture
        originKeys = [fixture.originKey.keyID: fixture.originKey.publicKey]
    }

    /// Verifies `body` as a leave for `eventID` from `origin`; returns the accepted event.
    /// `checkSignature: false` skips only the Ed25519 call, to measure the rest apart.
    func verify(body: [UInt8], eventID: String, origin: String, checkSignature: Bool = true) throws(FixtureError) -> PDU {
        let version = fixture.version
        let json: JSONObject
        let event: PDU
        let signingBytes: [UInt8]
        do {
            guard case .object(let object) = try JSONParser.parse(body) else { throw FixtureError("not an object") }
            json = object
            guard json["room_id"]?.stringValue == fixture.roomID else { throw FixtureError("room_id ≠ path") }
            event = try PDU(json: json, roomVersion: version)
            signingBytes = try EventHashing.redactedSigningBytes(of: json, version: version)
        } catch let error as FixtureError {
            throw error
        } catch {
            throw FixtureError("malformed: \(error)")
        }
        guard Self.eventID(signingBytes: signingBytes, format: version.eventIDFormat) == eventID else {
            throw FixtureError("event ID ≠ path")
        }
        guard event.type == EventType.member, event.stateKey == event.sender, event.membership == Membership.leave else {
            throw FixtureError("not a self-leave")
        }
        guard UserID(event.sender, historical: true)?.server == origin else { throw FixtureError("sender not on origin") }
        guard ServerACL.allows(origin, aclContent: fixture.state[.serverACL]?.pdu.content) else {
            throw FixtureError("denied by ACL")
        }
        if checkSignature { try verifySignature(of: json, server: origin, signingBytes: signingBytes) }
        // The worker goes on with a redacted copy on a mismatch; the fixture's hash is right, so
        // only the check itself is measured here.
        guard EventHashing.hasValidContentHash(json, version: version) else { throw FixtureError("content hash mismatch") }
        do {
            try AuthRules.check(event, authEvents: fixture.events, signatures: NoAuthSignatures())
            try AuthRules.check(event, against: fixture.state, signatures: NoAuthSignatures())
        } catch {
            throw FixtureError("auth rules: \(error)")
        }
        return event
    }

    /// Every `ed25519:` signature of `server` whose key we know must verify, and at least one.
    private func verifySignature(of json: JSONObject, server: String, signingBytes: [UInt8]) throws(FixtureError) {
        guard let signatures = json["signatures"]?[server]?.objectValue else { throw FixtureError("unsigned") }
        var verified = 0
        for member in signatures.members where member.key.hasPrefix("ed25519:") {
            guard let text = member.value.stringValue, let signature = Base64.decode(text) else {
                throw FixtureError("signature not base64")
            }
            guard let key = originKeys[member.key] else { continue }
            guard key.isValidSignature(signature, for: signingBytes) else { throw FixtureError("bad signature") }
            verified += 1
        }
        if verified == 0 { throw FixtureError("no verifiable signature") }
    }

    /// `$` + the reference hash (SHA-256 of the signing bytes) in the version's alphabet.
    static func eventID(signingBytes: [UInt8], format: RoomVersion.EventIDFormat) -> String? {
        switch format {
        case .explicit: return nil
        case .base64: return "$" + Base64.encodeUnpadded(SHA256.hash(signingBytes))
        case .urlSafeBase64: return "$" + Base64.encodeUnpaddedURLSafe(SHA256.hash(signingBytes))
        }
    }
}

/// The auth rules' signature checks, for events that need none (a self-leave has no
/// `join_authorised_via_users_server` and no third-party invite).
struct NoAuthSignatures: AuthSignatureVerifier {
    func isEvent(_ event: PDU, signedBy server: String) -> Bool { false }
    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool { false }
}
