import MatrixCore

/// Canonical JSON: a parsed value encodes canonically exactly when it has no non-canonical
/// number; the encoding parses back to the same value, re-encodes to the same bytes, and equals
/// the compact encoding (same layout, and every number is an in-range integer).
enum CanonicalProperties {
    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        guard let value = try? JSONParser.parse(input) else { return }
        let canonical: [UInt8]
        do {
            canonical = try value.canonicalBytes()
        } catch {
            try PropertyViolation.expect(
                !value.isCanonicalCompatible, "canonical-compatible \(quoted(input)) refused: \(error)")
            return
        }
        try PropertyViolation.expect(value.isCanonicalCompatible, "encoded non-canonical \(quoted(input))")
        let reparsed: JSONValue
        do { reparsed = try JSONParser.parse(canonical) } catch {
            throw PropertyViolation("canonical form \(quoted(canonical)) does not parse: \(error)")
        }
        try PropertyViolation.expect(reparsed == value, "canonical round trip changed \(quoted(input))")
        let again: [UInt8]
        do { again = try reparsed.canonicalBytes() } catch {
            throw PropertyViolation("re-parsed canonical form refused: \(error)")
        }
        try PropertyViolation.expect(again == canonical, "canonical encoding not idempotent for \(quoted(input))")
        try PropertyViolation.expect(
            value.compactBytes() == canonical, "compact and canonical bytes differ for \(quoted(input))")
        if case .object(let object) = value {
            let objectBytes: [UInt8]
            do { objectBytes = try object.canonicalBytes() } catch {
                throw PropertyViolation("object refused where the value was encoded: \(error)")
            }
            try PropertyViolation.expect(objectBytes == canonical, "object and value encodings differ")
        }
    }
}
