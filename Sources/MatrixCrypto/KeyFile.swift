import MatrixCore

/// Reads the line-oriented key files Synapse uses (`ed25519 <version> … <unpadded base64>`):
/// splits them into whitespace-separated fields and checks the parts both file kinds share.
enum KeyFile {
    /// The only signing algorithm Matrix defines.
    static let algorithm = "ed25519"

    /// One non-blank line of a key file: its 1-based line number and its fields.
    struct Line {
        let number: Int
        let fields: [Substring]
    }

    /// The non-blank lines of `text` (LF, CRLF or CR line ends; fields separated by spaces or tabs).
    static func lines(_ text: String) -> [Line] {
        var result: [Line] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if !fields.isEmpty { result.append(Line(number: index + 1, fields: fields)) }
        }
        return result
    }

    /// Checks the field count, the algorithm and the version of `line`; returns the key ID.
    static func keyID(of line: Line, layout: String, fieldCount: Int) throws(SigningKeyError) -> String {
        guard line.fields.count == fieldCount else {
            throw .malformedLine(line: line.number,
                                 reason: "expected \(fieldCount) fields `\(layout)`, found \(line.fields.count)")
        }
        // Field values are not echoed: a misplaced seed must not end up in a log.
        guard line.fields[0] == algorithm else {
            throw .malformedLine(line: line.number, reason: "field 1 must be the algorithm ed25519")
        }
        let version = String(line.fields[1])
        guard SigningKey.isValidVersion(version) else {
            throw .malformedLine(line: line.number, reason: "field 2 (the key version) must match [a-zA-Z0-9_]+")
        }
        return "\(algorithm):\(version)"
    }

    /// Decodes a 32-byte key from unpadded base64; the message never repeats the (possibly secret) text.
    static func keyBytes(_ field: Substring, line: Int, what: String) throws(SigningKeyError) -> [UInt8] {
        guard let bytes = Base64.decode(String(field)) else {
            throw .malformedLine(line: line, reason: "\(what) is not valid base64")
        }
        guard bytes.count == 32 else {
            throw .malformedLine(line: line, reason: "\(what) decodes to \(bytes.count) bytes, expected 32")
        }
        return bytes
    }

    /// Refuses a key ID that an earlier line already defined.
    static func checkUnique(_ keyID: String, line: Int, seen: inout Set<String>) throws(SigningKeyError) {
        guard seen.insert(keyID).inserted else {
            throw .malformedLine(line: line, reason: "key ID \(keyID) appears more than once")
        }
    }
}
