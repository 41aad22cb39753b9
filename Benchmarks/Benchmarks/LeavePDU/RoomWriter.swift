import MatrixCore
import MatrixCrypto

/// Writes a room event by event as its servers would: each event cites the auth events its
/// room version selects from the state before it and the latest events as `prev_events`, gets
/// its content hash and its server's signature over the redacted form.
struct RoomWriter {
    /// One event as its server sends it.
    struct SignedEvent {
        let json: JSONObject
        let eventID: String
        let signingBytes: [UInt8]
        let signature: [UInt8]
    }

    let version: RoomVersion
    let roomID: String
    private(set) var state: [StateKey: AuthEvent] = [:]
    private(set) var events: [ExactString: AuthEvent] = [:]
    private var order: [String] = []

    init(version: RoomVersion, roomID: String) {
        self.version = version
        self.roomID = roomID
    }

    /// Makes the event and adds it to the room (its state, if it is a state event).
    mutating func append(type: String, stateKey: String, sender: String, content: JSONObject,
                         server: String, key: SigningKey) throws(FixtureError) {
        let event = try make(type: type, stateKey: stateKey, sender: sender, content: content,
                             prevEvents: 1, server: server, key: key)
        let pdu: PDU
        do { pdu = try PDU(json: event.json, roomVersion: version) } catch { throw FixtureError("\(type): \(error)") }
        let authEvent = AuthEvent(eventID: event.eventID, pdu: pdu)
        events[ExactString(event.eventID)] = authEvent
        state[StateKey(type: type, stateKey: stateKey)] = authEvent
        order.append(event.eventID)
    }

    /// Makes the next state event of the room, hashed and signed, without adding it.
    func make(type: String, stateKey: String, sender: String, content: JSONObject, prevEvents: Int,
              server: String, key: SigningKey) throws(FixtureError) -> SignedEvent {
        let authKeys = AuthRules.authEventSelection(
            for: type, sender: sender, stateKey: stateKey, content: content, version: version)
        var event: JSONObject = [
            "type": .string(type), "state_key": .string(stateKey), "sender": .string(sender),
            "room_id": .string(roomID), "origin": .string(server), "content": .object(content),
            "depth": .integer(Int64(order.count + 1)),
            "origin_server_ts": .integer(1_700_000_000_000 + Int64(order.count) * 1_000),
            "auth_events": .array(authKeys.compactMap { state[$0].map { .string($0.eventID) } }),
            "prev_events": .array(order.suffix(prevEvents).map { .string($0) }),
        ]
        do {
            let hash = try EventHashing.contentHash(of: event, version: version)
            event["hashes"] = ["sha256": .string(Base64.encodeUnpadded(hash))]
            let bytes = try EventHashing.redactedSigningBytes(of: event, version: version)
            let signature = key.privateKey.signature(for: bytes)
            let signed = JSONSigning.adding(signature: Base64.encodeUnpadded(signature), entity: server,
                                            keyID: key.keyID, to: event)
            return SignedEvent(json: signed, eventID: try EventHashing.eventID(of: signed, version: version),
                               signingBytes: bytes, signature: signature)
        } catch {
            throw FixtureError("\(type): \(error)")
        }
    }
}
