import MatrixCore
import MatrixCrypto
import TestSupport
import XCTest

/// A vector file did not have the expected shape.
struct VectorShapeError: Error, CustomStringConvertible {
    let description: String
}

/// The JSON object at `path` below `value`.
func object(_ value: JSONValue?, _ what: String) throws -> JSONObject {
    guard case .object(let object)? = value else { throw VectorShapeError(description: "\(what) is not an object") }
    return object
}

/// The string at `value`.
func string(_ value: JSONValue?, _ what: String) throws -> String {
    guard case .string(let text)? = value else { throw VectorShapeError(description: "\(what) is not a string") }
    return text
}

/// The rooms of `events.json`: one per room version, every event with its expected hashes, IDs
/// and Synapse's auth verdicts.
struct VectorRoom {
    /// One event of a room, with its vector entry.
    struct Event {
        let name: String
        /// The whole vector entry (input, content_hash, redacted, event_id, synapse_auth, …).
        let vector: JSONObject
        /// The PDU as the room holds it: `stored_pdu` where present, else `pdu`.
        let pdu: JSONObject
        let eventID: String
    }

    let version: RoomVersion
    let roomID: String
    let events: [Event]
    /// `final_state`: event IDs by (type, state key).
    let finalState: [StateKey: String]

    static func all() throws -> [VectorRoom] {
        let file = try object(JSONParser.parse(try Vectors.bytes("events")), "events.json")
        return try object(file["versions"], "versions").members.map { member in
            let room = try object(member.value, "room \(member.key)")
            let version = try XCTUnwrap(RoomVersion(member.key), "unknown version \(member.key)")
            let events = try (room["events"]?.arrayValue ?? []).map { value in
                let vector = try object(value, "event")
                let name = try string(vector["name"], "name")
                return Event(
                    name: name, vector: vector, pdu: try object(vector["stored_pdu"] ?? vector["pdu"], name),
                    eventID: try string(vector["event_id"], name))
            }
            var finalState: [StateKey: String] = [:]
            for entry in try object(room["final_state"], "final_state").members {
                let parts = entry.key.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
                let key = StateKey(type: String(parts[0]), stateKey: parts.count > 1 ? String(parts[1]) : "")
                finalState[key] = try string(entry.value, entry.key)
            }
            return VectorRoom(
                version: version, roomID: try string(room["room_id"], "room_id"), events: events,
                finalState: finalState)
        }
    }

    /// The room's events as the auth rules see them, by event ID.
    func authEvents() throws -> [ExactString: AuthEvent] {
        var byID: [ExactString: AuthEvent] = [:]
        for event in events {
            byID[ExactString(event.eventID)] = AuthEvent(eventID: event.eventID, pdu: try PDU(json: event.pdu, roomVersion: version))
        }
        return byID
    }

    /// The current state at the end of the room.
    func currentState() throws -> [StateKey: AuthEvent] {
        let byID = try authEvents()
        return try finalState.mapValues { id in try XCTUnwrap(byID[ExactString(id)], "final state names unknown \(id)") }
    }
}

/// The public Ed25519 keys of the vector servers, by server name and key ID.
func vectorServerKeys() throws -> [String: [String: Ed25519PublicKey]] {
    let file = try object(JSONParser.parse(try Vectors.bytes("events")), "events.json")
    var keys: [String: [String: Ed25519PublicKey]] = [:]
    for server in try object(file["servers"], "servers").members {
        let entry = try object(server.value, server.key)
        let bytes = try XCTUnwrap(Base64.decode(try string(entry["public_key_unpadded_base64"], "public key")))
        keys[server.key] = [try string(entry["key_id"], "key_id"): try Ed25519PublicKey(bytes: bytes)]
    }
    return keys
}

/// The signing keys of the vector servers (from their published seeds), by server name.
func vectorSigningKeys() throws -> [String: (keyID: String, key: Ed25519PrivateKey)] {
    let file = try object(JSONParser.parse(try Vectors.bytes("events")), "events.json")
    var keys: [String: (keyID: String, key: Ed25519PrivateKey)] = [:]
    for server in try object(file["servers"], "servers").members {
        let entry = try object(server.value, server.key)
        let seed = try XCTUnwrap(Base64.decode(try string(entry["seed_unpadded_base64"], "seed")))
        keys[server.key] = (try string(entry["key_id"], "key_id"), try Ed25519PrivateKey(seed: seed))
    }
    return keys
}

extension KeyedAuthSignatures {
    /// The auth rules' signature checks over the vector servers' keys.
    init(vectorKeys: [String: [String: Ed25519PublicKey]]) {
        self.init(keys: Dictionary(uniqueKeysWithValues: vectorKeys.map { server, keys in
            (ExactString(server), Dictionary(uniqueKeysWithValues: keys.map { (ExactString($0.key), $0.value) }))
        }))
    }
}
