import MatrixCore

/// The strict JSON parser: whatever it accepts is UTF-8, nested within its depth limit (and
/// refused exactly one level below it), and survives a compact encode → parse round trip unchanged.
/// What ``JSONCompactForm`` takes as already compact is an object of 64-bit integers that parses
/// and writes back to the same bytes.
enum JSONProperties {
    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        let takenAsCompact = JSONCompactForm.isCompact(input)
        let value: JSONValue
        do { value = try JSONParser.parse(input) } catch {
            try PropertyViolation.expect(!takenAsCompact, "JSONCompactForm took \(quoted(input)), which does not parse: \(error)")
            return
        }
        try PropertyViolation.expect(
            String(validating: input, as: UTF8.self) != nil, "accepted invalid UTF-8 \(quoted(input))")
        let depth = nesting(of: value)
        try PropertyViolation.expect(depth <= JSONParser.Limits.default.maxDepth, "accepted depth \(depth)")
        if depth > 0 {
            var tighter = JSONParser.Limits.default
            tighter.maxDepth = depth - 1
            let refusal: JSONParseError?
            do { _ = try JSONParser.parse(input, limits: tighter); refusal = nil } catch { refusal = error }
            try PropertyViolation.expect(
                refusal == .tooDeep, "depth \(depth) with limit \(depth - 1): \(refusal.map { "\($0)" } ?? "accepted")")
        }
        let compact = value.compactBytes()
        let reparsed: JSONValue
        do { reparsed = try JSONParser.parse(compact) } catch {
            throw PropertyViolation("compact form \(quoted(compact)) does not parse: \(error)")
        }
        try PropertyViolation.expect(reparsed == value, "compact round trip changed \(quoted(input))")
        try PropertyViolation.expect(
            reparsed.compactBytes() == compact, "compact encoding not idempotent for \(quoted(input))")
        if takenAsCompact {
            try PropertyViolation.expect(
                value.objectValue != nil && value.firstNonInt64Number == nil && compact == input,
                "JSONCompactForm took \(quoted(input)), whose compact form is \(quoted(compact))")
        }
    }

    /// How many containers enclose the deepest value (a scalar: 0).
    static func nesting(of value: JSONValue) -> Int {
        switch value {
        case .array(let elements): return 1 + (elements.map(nesting(of:)).max() ?? 0)
        case .object(let object): return 1 + (object.members.map { nesting(of: $0.value) }.max() ?? 0)
        case .null, .bool, .integer, .nonCanonicalNumber, .string: return 0
        }
    }
}
