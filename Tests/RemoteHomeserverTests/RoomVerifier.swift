import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import XCTest

/// Re-checks a built room with the project's own code, as `rooms import` would: each event in
/// order against its format, hashes, ID, signatures, cited auth events and the auth rules.
struct RoomVerifier {
    let room: BuiltRoom
    let signers: [EventSigner]

    private struct Signatures: AuthSignatureVerifier {
        let keys: [String: SigningKey]
        func isEvent(_ event: PDU, signedBy server: String) -> Bool {
            guard let key = keys[server] else { return false }
            return JSONSigning.verify(Redaction.redact(event.json, version: event.roomVersion), entity: server,
                                      keyID: key.keyID, publicKey: key.publicKey)
        }
        func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool { false }
    }

    func verify(file: StaticString = #filePath, line: UInt = #line) throws {
        let version = room.version
        let signatures = Signatures(keys: Dictionary(uniqueKeysWithValues: signers.map { ($0.serverName, $0.key) }))
        var known: [ExactString: AuthEvent] = [:]
        var state: [StateKey: AuthEvent] = [:]
        var previous: SignedEvent?
        for (index, event) in room.events.enumerated() {
            let label = "v\(version.id) event \(index) \(event.eventID)"
            let pdu = try PDU(json: event.pdu, roomVersion: version)
            XCTAssertTrue(EventHashing.hasValidContentHash(event.pdu, version: version), label, file: file, line: line)
            XCTAssertEqual(try EventHashing.eventID(of: event.pdu, version: version), event.eventID, label,
                           file: file, line: line)
            XCTAssertEqual(try EventHashing.referenceHash(of: event.pdu, version: version), event.referenceHash, label,
                           file: file, line: line)
            XCTAssertEqual(try EventHashing.roomID(of: event.pdu, version: version), room.roomID, label,
                           file: file, line: line)
            let senderServer = try XCTUnwrap(UserID(pdu.sender)?.server)
            XCTAssertTrue(signatures.isEvent(pdu, signedBy: senderServer), label, file: file, line: line)
            XCTAssertEqual(pdu.depth, Int64(index + 1), label, file: file, line: line)
            XCTAssertEqual(pdu.prevEventIDs, previous.map { [$0.eventID] } ?? [], label, file: file, line: line)
            try checkReferenceHashes(event.pdu, known: known, label: label, file: file, line: line)

            let selected = AuthRules.authEventSelection(for: pdu).compactMap { state[$0]?.eventID }
            XCTAssertEqual(Set(pdu.authEventIDs), Set(selected), label, file: file, line: line)
            XCTAssertEqual(pdu.authEventIDs.count, selected.count, label, file: file, line: line)
            if version.roomIDFromCreateEvent, let create = state[.create] {
                XCTAssertFalse(pdu.authEventIDs.contains(create.eventID), label, file: file, line: line)
            }
            try AuthRules.check(pdu, authEvents: known, signatures: signatures)
            try AuthRules.check(pdu, against: state, signatures: signatures)

            let authEvent = AuthEvent(eventID: event.eventID, pdu: pdu)
            known[ExactString(event.eventID)] = authEvent
            if let key = pdu.stateKeyPair { state[key] = authEvent }
            previous = event
        }
        XCTAssertEqual(state.mapValues(\.eventID), room.state, file: file, line: line)
    }

    /// Whether `event`, appended after the room's last event, passes the auth rules against its
    /// auth events and against the room's final state.
    func isAuthorised(_ event: SignedEvent) -> Bool {
        var known: [ExactString: AuthEvent] = [:]
        var state: [StateKey: AuthEvent] = [:]
        for built in room.events {
            guard let pdu = try? PDU(json: built.pdu, roomVersion: room.version) else { return false }
            let authEvent = AuthEvent(eventID: built.eventID, pdu: pdu)
            known[ExactString(built.eventID)] = authEvent
            if let key = pdu.stateKeyPair { state[key] = authEvent }
        }
        let signatures = Signatures(keys: Dictionary(uniqueKeysWithValues: signers.map { ($0.serverName, $0.key) }))
        guard let pdu = try? PDU(json: event.pdu, roomVersion: room.version),
              (try? AuthRules.check(pdu, authEvents: known, signatures: signatures)) != nil,
              (try? AuthRules.check(pdu, against: state, signatures: signatures)) != nil
        else { return false }
        return true
    }

    /// v1–v2: the `sha256` of every `[id, {"sha256": …}]` entry is the cited event's reference hash.
    private func checkReferenceHashes(_ event: JSONObject, known: [ExactString: AuthEvent], label: String,
                                      file: StaticString, line: UInt) throws {
        guard room.version.referenceFormat == .pairs else { return }
        let entries = (event["prev_events"]?.arrayValue ?? []) + (event["auth_events"]?.arrayValue ?? [])
        for entry in entries {
            let id = try XCTUnwrap(entry.arrayValue?.first?.stringValue, label, file: file, line: line)
            let cited = try XCTUnwrap(known[ExactString(id)], label, file: file, line: line)
            let hash = try EventHashing.referenceHash(of: cited.pdu.json, version: room.version)
            XCTAssertEqual(entry.arrayValue?.last?["sha256"]?.stringValue, Base64.encodeUnpadded(hash), label,
                           file: file, line: line)
        }
    }
}
