import MatrixCore
import MatrixCrypto

/// The homeserver of record's own copy of a room (issue 15), as the reference homeserver in the
/// tests keeps it: the room grows here (members invited, joining) and the new events are pushed to
/// the fleet; the leaves the fleet accepted come back through its feed and are applied here as
/// they are — signed by this server's key, as if it had accepted them itself.
public struct RecordRoom: Sendable {
    private var assembly: RoomAssembly
    /// How many of `events` the fleet already has (imported, pushed or accepted by it).
    private var known: Int

    /// A room the fleet imported as `room`.
    public init(_ room: BuiltRoom) {
        assembly = room.assembly
        known = room.events.count
    }

    public var version: RoomVersion { assembly.version }
    public var roomID: String { assembly.roomID ?? "" }
    public var events: [SignedEvent] { assembly.events }
    /// The current membership of every user who has one, by user ID.
    public var members: [String: BuiltRoom.MemberState] { assembly.members }

    /// Makes the next event here: it follows the last event and cites its auth events from the
    /// current state; `signer` is the sender's server (and the resident server's key for ours).
    /// `stateKey` nil: a message event.
    @discardableResult
    public mutating func append(_ content: JSONObject, type: String, stateKey: String?, sender: String,
                                signer: EventSigner) throws(RoomBuildError) -> SignedEvent {
        try assembly.append(content, type: type, stateKey: stateKey, sender: sender, signer: signer)
        return assembly.events[assembly.events.count - 1]
    }

    /// Applies an event of the fleet's feed (its `pdu`), unless already applied (the feed is at
    /// least once). Returns whether it was new here.
    @discardableResult
    public mutating func apply(feedPDU pdu: JSONObject) throws -> Bool {
        let eventID = try EventHashing.eventID(of: pdu, version: version)
        guard !assembly.events.contains(where: { $0.eventID.bytesEqual(eventID) }) else { return false }
        let reference = try EventHashing.referenceHash(of: pdu, version: version)
        if known == assembly.events.count { known += 1 }   // else pushed again with the rest: the fleet skips it
        assembly.apply(SignedEvent(pdu: pdu, referenceHash: reference, eventID: eventID))
        return true
    }

    /// `{"room_version", "events"}` with the events made here since the last push (what
    /// `PUT /_leave_worker/v1/rooms/{roomId}/events` takes); they then count as known.
    public mutating func takePush() -> JSONObject {
        let document: JSONObject = [
            "room_version": .string(version.id), "events": .array(assembly.events[known...].map { .object($0.pdu) }),
        ]
        known = assembly.events.count
        return document
    }
}
