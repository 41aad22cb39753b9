import MatrixCore

/// The contents of the events a ``RoomBuilder`` creates.
enum RoomContent {
    /// `m.room.create`: the room version, and `creator` where the version still has it (v1–v10).
    static func create(creator: String, version: RoomVersion) -> JSONObject {
        var content: JSONObject = ["room_version": .string(version.id)]
        if !version.authRules.creatorIsSender { content["creator"] = .string(creator) }
        return content
    }

    /// `m.room.power_levels` with the admin at 100 (v12: the creator has infinite power and must
    /// not be listed), everyone else at 0, state events at 50.
    static func powerLevels(admin: String, version: RoomVersion) -> JSONObject {
        let users: JSONObject = version.authRules.privilegedCreators ? [:] : [admin: 100]
        return [
            "users": .object(users), "users_default": 0,
            "events": ["m.room.name": 50, "m.room.power_levels": 100, "m.room.server_acl": 100],
            "events_default": 0, "state_default": 50,
            "ban": 50, "kick": 50, "redact": 50, "invite": 0,
            "notifications": ["room": 50],
        ]
    }

    static func joinRule(_ rule: String) -> JSONObject {
        ["join_rule": .string(rule)]
    }

    static func membership(_ membership: String) -> JSONObject {
        ["membership": .string(membership)]
    }
}
