/// The redaction algorithm of each room version (spec: events-and-room-versions.md §6): keeps a
/// fixed set of top-level members and, inside `content`, a fixed set of keys per event type.
/// Its output (minus `signatures`/`unsigned`) is what the reference hash and event signatures cover.
public enum Redaction {
    private static let topLevelKeys: Set<ExactString> = [
        "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
        "prev_events", "auth_events", "origin_server_ts",
    ]
    private static let topLevelAndLegacyKeys = topLevelKeys.union(["prev_state", "origin", "membership"])
    private static let powerLevelKeys: Set<ExactString> = [
        "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default",
    ]
    private static let powerLevelAndInviteKeys = powerLevelKeys.union(["invite"])
    private static let membership: Set<ExactString> = ["membership"]
    private static let membershipAndAuthorisedVia: Set<ExactString> = ["membership", "join_authorised_via_users_server"]
    private static let creator: Set<ExactString> = ["creator"]
    private static let joinRule: Set<ExactString> = ["join_rule"]
    private static let joinRuleAndAllow: Set<ExactString> = ["join_rule", "allow"]
    private static let historyVisibility: Set<ExactString> = ["history_visibility"]
    private static let aliases: Set<ExactString> = ["aliases"]
    private static let redacts: Set<ExactString> = ["redacts"]
    private static let signed: Set<ExactString> = ["signed"]

    /// The redacted copy of `event` under `version`'s rules. `content` is always present.
    public static func redact(_ event: JSONObject, version: RoomVersion) -> JSONObject {
        let rules = version.redactionRules
        var redacted = event.keeping(rules.keepsLegacyTopLevelKeys ? topLevelAndLegacyKeys : topLevelKeys)
        let content = event["content"]?.objectValue ?? JSONObject()
        redacted["content"] = .object(redactContent(content, type: event["type"]?.stringValue, rules: rules))
        return redacted
    }

    private static func redactContent(_ content: JSONObject, type: String?, rules: RedactionRules) -> JSONObject {
        switch type.map({ ExactString($0) }) {
        case ExactString(EventType.member):
            var kept = content.keeping(rules.keepsJoinAuthorisedVia ? membershipAndAuthorisedVia : membership)
            if rules.keepsThirdPartyInviteSigned, case .object(let invite)? = content["third_party_invite"] {
                kept["third_party_invite"] = .object(invite.keeping(signed))
            }
            return kept
        case ExactString(EventType.create):
            return rules.keepsAllCreateContent ? content : content.keeping(creator)
        case ExactString(EventType.joinRules):
            return content.keeping(rules.keepsJoinRulesAllow ? joinRuleAndAllow : joinRule)
        case ExactString(EventType.powerLevels):
            return content.keeping(rules.keepsPowerLevelsInvite ? powerLevelAndInviteKeys : powerLevelKeys)
        case ExactString(EventType.historyVisibility):
            return content.keeping(historyVisibility)
        case ExactString(EventType.aliases) where rules.keepsAliases:
            return content.keeping(aliases)
        case ExactString(EventType.redaction) where rules.keepsRedactionRedacts:
            return content.keeping(redacts)
        default:
            return JSONObject()
        }
    }
}
