/// A user's power: a level, or (v12 room creators) infinitely high.
enum PowerLevel: Comparable {
    case level(Int64)
    case infinite
}

/// The power levels of a room state: the `m.room.power_levels` content with the spec's defaults
/// (no event: the creator has 100, everyone else 0; v12 creators are always infinite).
struct PowerLevels {
    static let namedLevels = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"]

    private let content: JSONObject?
    private let integersOnly: Bool
    private let creators: Set<ExactString>
    private let implicitCreator: String?

    init(state: AuthState) {
        content = state.events[.powerLevels]?.pdu.content
        integersOnly = state.version.authRules.integerPowerLevels
        creators = state.privilegedCreators
        implicitCreator = state.version.authRules.privilegedCreators ? nil : state.creator
    }

    /// The power of `user`.
    func userLevel(_ user: String) throws(AuthError) -> PowerLevel {
        if creators.contains(ExactString(user)) { return .infinite }
        guard let content else { return .level(implicitCreator.bytesEqual(user) ? 100 : 0) }
        if let explicit = try usersObject(content)?[user] {
            return .level(try level(explicit, "users"))
        }
        return .level(try level(named: "users_default", default: 0))
    }

    /// A top-level level such as `ban`, `kick`, `invite`, `redact`, with its default.
    func level(named name: String, default defaultLevel: Int64) throws(AuthError) -> Int64 {
        guard let value = content?[name] else { return defaultLevel }
        return try level(value, name)
    }

    /// The level needed to send an event of `type` (`events`, else `state_default`/`events_default`).
    func sendLevel(eventType type: String, isState: Bool) throws(AuthError) -> Int64 {
        if let events = content?["events"] {
            guard case .object(let levels) = events else { throw .invalidPowerLevels("events is not an object") }
            if let value = levels[type] { return try level(value, "events") }
        }
        return isState ? try level(named: "state_default", default: 50) : try level(named: "events_default", default: 0)
    }

    private func level(_ value: JSONValue, _ name: String) throws(AuthError) -> Int64 {
        guard let level = PowerLevels.parse(value, integersOnly: integersOnly) else {
            throw .invalidPowerLevels("\(name) holds a value that is not a level")
        }
        return level
    }

    private func usersObject(_ content: JSONObject) throws(AuthError) -> JSONObject? {
        guard let users = content["users"] else { return nil }
        guard case .object(let object) = users else { throw .invalidPowerLevels("users is not an object") }
        return object
    }

    /// A level value: a JSON integer, or (v1–v9) a string holding a base-10 integer with optional
    /// surrounding whitespace, one optional sign and leading zeros (spec "stringy power levels").
    static func parse(_ value: JSONValue, integersOnly: Bool) -> Int64? {
        switch value {
        case .integer(let integer): return integer
        case .string(let text) where !integersOnly: return parseNumericString(text)
        default: return nil
        }
    }

    private static func parseNumericString(_ text: String) -> Int64? {
        var scalars = Substring(text).unicodeScalars.drop(while: \.properties.isWhitespace)
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        var negative = false
        if let sign = scalars.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            scalars = scalars.dropFirst()
        }
        guard !scalars.isEmpty else { return nil }
        // Accumulated as a negative number so that "-9223372036854775808" (Int64.min) fits; a value
        // beyond 64 bits is not a level.
        var negated: Int64 = 0
        for scalar in scalars {
            guard ("0"..."9").contains(scalar) else { return nil }
            let digit = Int64(scalar.value - UnicodeScalar("0").value)
            let (shifted, overflowA) = negated.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = shifted.subtractingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            negated = next
        }
        if negative { return negated }
        return negated == .min ? nil : -negated
    }
}
