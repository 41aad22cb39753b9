extension AuthRules {
    /// Rule 1: an `m.room.create` event.
    static func checkCreate(_ event: PDU) throws(AuthError) {
        let version = event.roomVersion
        guard event.prevEventIDs.isEmpty else { throw .createHasPrevEvents }
        if version.roomIDFromCreateEvent {
            guard event.roomID == nil else { throw .createHasRoomID }
        } else {
            guard let roomID = event.roomID, AuthState.sameDomain(roomID, event.sender) else {
                throw .createRoomDomainMismatch
            }
        }
        if let roomVersion = event.content["room_version"] {
            guard let id = roomVersion.stringValue, RoomVersion(id) != nil else { throw .createUnknownRoomVersion }
        }
        if version.authRules.privilegedCreators, let additional = event.content["additional_creators"] {
            let valid = additional.arrayValue?.allSatisfy { value in
                value.stringValue.flatMap { UserID($0, historical: true) } != nil
            }
            guard valid == true else { throw .createInvalidAdditionalCreators }
        }
        if !version.authRules.creatorIsSender, event.content["creator"] == nil { throw .createMissingCreator }
    }
}
