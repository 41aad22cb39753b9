/// The one table of room-version rules (spec: events-and-room-versions.md §1).
extension RoomVersion {
    static let table: [RoomVersion] = [
        RoomVersion(
            id: "1", eventIDFormat: .explicit, referenceFormat: .pairs, redactionRules: .v1, authRules: .v1,
            strictCanonicalJSON: false, enforcesKeyValidity: false, maxDepth: .max,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "2", eventIDFormat: .explicit, referenceFormat: .pairs, redactionRules: .v1, authRules: .v1,
            strictCanonicalJSON: false, enforcesKeyValidity: false, maxDepth: .max,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "3", eventIDFormat: .base64, referenceFormat: .ids, redactionRules: .v1, authRules: .v3,
            strictCanonicalJSON: false, enforcesKeyValidity: false, maxDepth: .max,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "4", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v1, authRules: .v3,
            strictCanonicalJSON: false, enforcesKeyValidity: false, maxDepth: .max,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "5", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v1, authRules: .v3,
            strictCanonicalJSON: false, enforcesKeyValidity: true, maxDepth: .max,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "6", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v6, authRules: .v6,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "7", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v6, authRules: .v7,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "8", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v8, authRules: .v8,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "9", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v9, authRules: .v8,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "10", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v9, authRules: .v10,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: false, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "11", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v11, authRules: .v11,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: true, roomIDFromCreateEvent: false),
        RoomVersion(
            id: "12", eventIDFormat: .urlSafeBase64, referenceFormat: .ids, redactionRules: .v11, authRules: .v12,
            strictCanonicalJSON: true, enforcesKeyValidity: true, maxDepth: JSONValue.maxCanonicalInteger,
            redactsInContent: true, roomIDFromCreateEvent: true),
    ]
}

extension RedactionRules {
    static let v1 = RedactionRules(
        name: "v1", keepsLegacyTopLevelKeys: true, keepsAliases: true, keepsJoinRulesAllow: false,
        keepsJoinAuthorisedVia: false, keepsAllCreateContent: false, keepsPowerLevelsInvite: false,
        keepsRedactionRedacts: false, keepsThirdPartyInviteSigned: false)
    static let v6 = RedactionRules(
        name: "v6", keepsLegacyTopLevelKeys: true, keepsAliases: false, keepsJoinRulesAllow: false,
        keepsJoinAuthorisedVia: false, keepsAllCreateContent: false, keepsPowerLevelsInvite: false,
        keepsRedactionRedacts: false, keepsThirdPartyInviteSigned: false)
    static let v8 = RedactionRules(
        name: "v8", keepsLegacyTopLevelKeys: true, keepsAliases: false, keepsJoinRulesAllow: true,
        keepsJoinAuthorisedVia: false, keepsAllCreateContent: false, keepsPowerLevelsInvite: false,
        keepsRedactionRedacts: false, keepsThirdPartyInviteSigned: false)
    static let v9 = RedactionRules(
        name: "v9", keepsLegacyTopLevelKeys: true, keepsAliases: false, keepsJoinRulesAllow: true,
        keepsJoinAuthorisedVia: true, keepsAllCreateContent: false, keepsPowerLevelsInvite: false,
        keepsRedactionRedacts: false, keepsThirdPartyInviteSigned: false)
    static let v11 = RedactionRules(
        name: "v11", keepsLegacyTopLevelKeys: false, keepsAliases: false, keepsJoinRulesAllow: true,
        keepsJoinAuthorisedVia: true, keepsAllCreateContent: true, keepsPowerLevelsInvite: true,
        keepsRedactionRedacts: true, keepsThirdPartyInviteSigned: true)
}

extension AuthRuleSet {
    static let v1 = AuthRuleSet(
        name: "v1", redactionRule: true, specialCaseAliases: true, limitNotificationsPowerLevels: false,
        knockJoinRule: false, restrictedJoinRule: false, knockRestrictedJoinRule: false,
        integerPowerLevels: false, creatorIsSender: false, privilegedCreators: false)
    static let v3 = AuthRuleSet(
        name: "v3", redactionRule: false, specialCaseAliases: true, limitNotificationsPowerLevels: false,
        knockJoinRule: false, restrictedJoinRule: false, knockRestrictedJoinRule: false,
        integerPowerLevels: false, creatorIsSender: false, privilegedCreators: false)
    static let v6 = AuthRuleSet(
        name: "v6", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: false, restrictedJoinRule: false, knockRestrictedJoinRule: false,
        integerPowerLevels: false, creatorIsSender: false, privilegedCreators: false)
    static let v7 = AuthRuleSet(
        name: "v7", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: true, restrictedJoinRule: false, knockRestrictedJoinRule: false,
        integerPowerLevels: false, creatorIsSender: false, privilegedCreators: false)
    static let v8 = AuthRuleSet(
        name: "v8", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: true, restrictedJoinRule: true, knockRestrictedJoinRule: false,
        integerPowerLevels: false, creatorIsSender: false, privilegedCreators: false)
    static let v10 = AuthRuleSet(
        name: "v10", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: true, restrictedJoinRule: true, knockRestrictedJoinRule: true,
        integerPowerLevels: true, creatorIsSender: false, privilegedCreators: false)
    static let v11 = AuthRuleSet(
        name: "v11", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: true, restrictedJoinRule: true, knockRestrictedJoinRule: true,
        integerPowerLevels: true, creatorIsSender: true, privilegedCreators: false)
    static let v12 = AuthRuleSet(
        name: "v12", redactionRule: false, specialCaseAliases: false, limitNotificationsPowerLevels: true,
        knockJoinRule: true, restrictedJoinRule: true, knockRestrictedJoinRule: true,
        integerPowerLevels: true, creatorIsSender: true, privilegedCreators: true)
}
