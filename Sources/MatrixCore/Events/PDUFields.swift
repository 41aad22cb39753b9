/// Reads and checks the top-level members of a PDU for ``PDU/init(json:roomVersion:)``.
struct PDUFields {
    let json: JSONObject
    let version: RoomVersion

    init(json: JSONObject, version: RoomVersion) {
        self.json = json
        self.version = version
    }

    private func value(_ name: String) throws(PDUError) -> JSONValue {
        guard let value = json[name] else { throw .missingMember(name) }
        return value
    }

    /// A required string of at most 255 bytes.
    func identifier(_ name: String) throws(PDUError) -> String {
        guard case .string(let text) = try value(name) else { throw .wrongType(member: name, expected: "a string") }
        guard text.utf8.count <= PDU.maxIdentifierBytes else { throw .memberTooLong(name) }
        return text
    }

    /// An optional string of at most 255 bytes.
    func optionalIdentifier(_ name: String) throws(PDUError) -> String? {
        json[name] == nil ? nil : try identifier(name)
    }

    func object(_ name: String) throws(PDUError) -> JSONObject {
        guard case .object(let object) = try value(name) else { throw .wrongType(member: name, expected: "an object") }
        return object
    }

    func integer(_ name: String) throws(PDUError) -> Int64 {
        guard case .integer(let integer) = try value(name) else {
            throw .wrongType(member: name, expected: "an integer")
        }
        return integer
    }

    /// `hashes` must be an object whose `sha256` is a string.
    func checkHashes() throws(PDUError) {
        guard case .string = try object("hashes")["sha256"] else {
            throw .wrongType(member: "hashes", expected: "an object with a string 'sha256'")
        }
    }

    /// `signatures`, when present, must map server names to objects mapping key IDs to strings.
    /// An event without `signatures` is well formed but signed by nobody: the signature check
    /// refuses it (the contract's "signature missing", 403), not the format check.
    func checkSignatures() throws(PDUError) {
        guard json["signatures"] != nil else { return }
        let wellFormed = try object("signatures").members.allSatisfy { server in
            guard case .object(let keys) = server.value else { return false }
            return keys.members.allSatisfy { $0.value.stringValue != nil }
        }
        guard wellFormed else {
            throw .wrongType(member: "signatures", expected: "an object of objects of strings")
        }
    }

    /// The event IDs of `prev_events`/`auth_events`, in the version's entry format.
    func references(_ name: String, limit: Int) throws(PDUError) -> [String] {
        guard case .array(let entries) = try value(name) else { throw .wrongType(member: name, expected: "an array") }
        guard entries.count <= limit else { throw .tooManyReferences(member: name, count: entries.count) }
        var ids: [String] = []
        ids.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            guard let id = eventID(inEntry: entry), PDUFields.isEventID(id, format: version.eventIDFormat) else {
                throw .invalidReference(member: name, index: index)
            }
            ids.append(id)
        }
        return ids
    }

    private func eventID(inEntry entry: JSONValue) -> String? {
        switch version.referenceFormat {
        case .ids:
            return entry.stringValue
        case .pairs:
            guard case .array(let pair) = entry, pair.count == 2, pair[1].objectValue != nil else { return nil }
            return pair[0].stringValue
        }
    }

    /// Whether `text` is an event ID of the given format: `$opaque:server` for v1–v2, `$` + 43
    /// characters of the version's base64 alphabet for v3+.
    static func isEventID(_ text: String, format: RoomVersion.EventIDFormat) -> Bool {
        switch format {
        case .explicit:
            return EventID(text)?.server != nil
        case .base64:
            return isHashEventID(text, extraCharacters: (UInt8(ascii: "+"), UInt8(ascii: "/")))
        case .urlSafeBase64:
            return isHashEventID(text, extraCharacters: (UInt8(ascii: "-"), UInt8(ascii: "_")))
        }
    }

    private static func isHashEventID(_ text: String, extraCharacters: (UInt8, UInt8)) -> Bool {
        let bytes = text.utf8
        guard bytes.count == 44, bytes.first == UInt8(ascii: "$") else { return false }
        return bytes.dropFirst().allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return byte == extraCharacters.0 || byte == extraCharacters.1
            }
        }
    }
}
