/// A key of the room state: an event type and a state key.
public struct StateKey: Hashable, Sendable, CustomStringConvertible {
    public let type: String
    public let stateKey: String

    public init(type: String, stateKey: String) {
        self.type = type
        self.stateKey = stateKey
    }

    /// `(m.room.create, "")`.
    public static let create = StateKey(type: EventType.create, stateKey: "")
    /// `(m.room.power_levels, "")`.
    public static let powerLevels = StateKey(type: EventType.powerLevels, stateKey: "")
    /// `(m.room.join_rules, "")`.
    public static let joinRules = StateKey(type: EventType.joinRules, stateKey: "")
    /// `(m.room.server_acl, "")`.
    public static let serverACL = StateKey(type: EventType.serverACL, stateKey: "")

    /// `(m.room.member, user)`.
    public static func member(_ user: String) -> StateKey {
        StateKey(type: EventType.member, stateKey: user)
    }

    /// `(m.room.third_party_invite, token)`.
    public static func thirdPartyInvite(token: String) -> StateKey {
        StateKey(type: EventType.thirdPartyInvite, stateKey: token)
    }

    public var description: String { "(\(type), \"\(stateKey)\")" }

    /// Byte for byte: state keys are user IDs and other identifiers, never compared by Unicode
    /// equivalence (`@\u{212A}:x` is not `@K:x`).
    public static func == (lhs: StateKey, rhs: StateKey) -> Bool {
        lhs.type.bytesEqual(rhs.type) && lhs.stateKey.bytesEqual(rhs.stateKey)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ExactString(type))
        hasher.combine(ExactString(stateKey))
    }
}

/// An event as the authorization rules see it: the parsed PDU, its event ID, and whether it was
/// itself rejected when it was received.
public struct AuthEvent: Sendable {
    public let eventID: String
    public let pdu: PDU
    public let isRejected: Bool
    /// An `m.room.server_acl` state event's rules, prepared once with the event (nil for others).
    public let serverACL: ServerACL.Rules?

    public init(eventID: String, pdu: PDU, isRejected: Bool = false) {
        self.eventID = eventID
        self.pdu = pdu
        self.isRejected = isRejected
        serverACL = pdu.type.bytesEqual(EventType.serverACL) && pdu.stateKey?.isEmpty == true
            ? ServerACL.Rules(content: pdu.content) : nil
    }
}

/// The signature checks some authorization rules need. The rules are pure, so whoever calls them
/// supplies these answers (with the keys it has fetched).
public protocol AuthSignatureVerifier {
    /// Whether `event` carries a valid signature of `server` (v8+ rule for
    /// `content.join_authorised_via_users_server`).
    func isEvent(_ event: PDU, signedBy server: String) -> Bool
    /// Whether any `ed25519` signature in a third-party invite's `signed` object verifies with
    /// any of `publicKeys` (unpadded base64 Ed25519 public keys from the
    /// `m.room.third_party_invite` event).
    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool
}
