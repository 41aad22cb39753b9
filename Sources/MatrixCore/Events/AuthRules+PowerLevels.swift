extension AuthRules {
    /// The `m.room.power_levels` rules (v1–v2 rule 10, v3–v11 rule 10/9, v12 rule 10), in the
    /// spec's order.
    static func checkPowerLevelsEvent(_ event: PDU, state: AuthState, senderPower: PowerLevel) throws(AuthError) {
        let rules = event.roomVersion.authRules
        let new = event.content
        if rules.integerPowerLevels {
            for name in PowerLevels.namedLevels where new[name] != nil && new[name]?.integerValue == nil {
                throw .invalidPowerLevels("\(name) is not an integer")
            }
            for name in ["events", "notifications"] where new[name] != nil {
                guard let levels = new[name]?.objectValue, levels.members.allSatisfy({ $0.value.integerValue != nil })
                else { throw .invalidPowerLevels("\(name) is not an object of integers") }
            }
        }
        let newUsers = try levelObject(new, "users")
        for member in newUsers.members {
            guard UserID(member.key, historical: true) != nil,
                PowerLevels.parse(member.value, integersOnly: rules.integerPowerLevels) != nil
            else { throw .invalidPowerLevels("users entry \(member.key)") }
        }
        if let creator = state.privilegedCreators.first(where: { newUsers[$0.text] != nil }) {
            throw .creatorInPowerLevels(creator.text)
        }
        guard let old = state.events[.powerLevels]?.pdu.content else { return }

        for name in PowerLevels.namedLevels {
            try checkAlteration(of: name, old: old[name], new: new[name], rules: rules, senderPower: senderPower)
        }
        let categories = rules.limitNotificationsPowerLevels ? ["events", "notifications"] : ["events"]
        for category in categories {
            try forEachEntry(of: try levelObject(old, category), and: try levelObject(new, category)) {
                key, oldValue, newValue throws(AuthError) in
                try checkAlteration(of: key, old: oldValue, new: newValue, rules: rules, senderPower: senderPower)
            }
        }
        try forEachEntry(of: try levelObject(old, "users"), and: newUsers) { user, oldValue, newValue throws(AuthError) in
            let changed = try checkAlteration(
                of: user, old: oldValue, new: newValue, rules: rules, senderPower: senderPower)
            if let oldLevel = changed?.old, !user.bytesEqual(event.sender), .level(oldLevel) >= senderPower {
                throw .powerLevelChangeNotAllowed(user)
            }
        }
    }

    /// For an added, changed or removed level: neither the current nor the new value may exceed
    /// the sender's power. Returns the two levels when they differ.
    @discardableResult
    private static func checkAlteration(
        of key: String, old: JSONValue?, new: JSONValue?, rules: AuthRuleSet, senderPower: PowerLevel
    ) throws(AuthError) -> (old: Int64?, new: Int64?)? {
        let oldLevel = try level(old, key, rules)
        let newLevel = try level(new, key, rules)
        guard oldLevel != newLevel else { return nil }
        if let oldLevel, .level(oldLevel) > senderPower { throw .powerLevelChangeNotAllowed(key) }
        if let newLevel, .level(newLevel) > senderPower { throw .powerLevelChangeNotAllowed(key) }
        return (oldLevel, newLevel)
    }

    private static func level(_ value: JSONValue?, _ key: String, _ rules: AuthRuleSet) throws(AuthError) -> Int64? {
        guard let value else { return nil }
        guard let level = PowerLevels.parse(value, integersOnly: rules.integerPowerLevels) else {
            throw .invalidPowerLevels("\(key) holds a value that is not a level")
        }
        return level
    }

    /// `content[name]` as an object (empty when absent).
    private static func levelObject(_ content: JSONObject, _ name: String) throws(AuthError) -> JSONObject {
        guard let value = content[name] else { return JSONObject() }
        guard case .object(let object) = value else { throw .invalidPowerLevels("\(name) is not an object") }
        return object
    }

    /// Calls `body` for every key of either object (byte-exact keys), with its value in each.
    private static func forEachEntry(
        of old: JSONObject, and new: JSONObject, _ body: (String, JSONValue?, JSONValue?) throws(AuthError) -> Void
    ) throws(AuthError) {
        for member in old.members { try body(member.key, member.value, new[member.key]) }
        for member in new.members where old[member.key] == nil { try body(member.key, nil, member.value) }
    }
}
