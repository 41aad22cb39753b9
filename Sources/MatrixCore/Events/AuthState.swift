/// The room state as the authorization rules read it: the events at the (type, state key) pairs
/// the rules consult — either the event's own auth events or the room's state at some point.
struct AuthState {
    let events: [StateKey: AuthEvent]
    let version: RoomVersion

    var create: AuthEvent? { events[.create] }

    /// `content.membership` of `user`'s member event; `nil` when there is none.
    func membership(of user: String) -> String? {
        events[.member(user)]?.pdu.membership
    }

    /// `content.join_rule` of the join rules event; `nil` when there is none.
    var joinRule: String? {
        events[.joinRules].flatMap { $0.pdu.content["join_rule"]?.stringValue }
    }

    /// The creator the "first join" rule compares with: `content.creator` in v1–v10, the create
    /// event's `sender` from v11.
    var creator: String? {
        guard let create = create?.pdu else { return nil }
        return version.authRules.creatorIsSender ? create.sender : create.content["creator"]?.stringValue
    }

    /// v12 room creators: the create event's `sender` plus the strings of `additional_creators`.
    var privilegedCreators: Set<String> {
        guard version.authRules.privilegedCreators, let create = create?.pdu else { return [] }
        var creators: Set<String> = [create.sender]
        for value in create.content["additional_creators"]?.arrayValue ?? [] {
            if let user = value.stringValue { creators.insert(user) }
        }
        return creators
    }

    /// The domain of a user ID (everything after the first `:` byte, as ``UserID`` splits it).
    static func domain(of userID: String) -> Substring {
        guard let colon = userID.utf8.firstIndex(of: UInt8(ascii: ":")) else { return "" }
        return userID[userID.utf8.index(after: colon)...]
    }
}
