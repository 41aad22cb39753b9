/// What storage keeps of an event: the columns the worker queries by, and the PDU bytes it serves.
public struct EventRecord: Sendable, Equatable {
    public let eventID: String
    public let roomID: String
    public let type: String
    public let stateKey: String?
    public let sender: String
    public let depth: Int64
    public let originServerTS: Int64
    /// `content.membership` of an `m.room.member` event, else nil.
    public let membership: String?
    /// The event IDs the event cites, in either room-version format reduced to IDs.
    public let prevEvents: [String]
    public let authEvents: [String]
    /// The PDU's JSON text exactly as stored and served (for our leaves: with our signature).
    public let pdu: [UInt8]

    public init(
        eventID: String, roomID: String, type: String, stateKey: String?, sender: String, depth: Int64,
        originServerTS: Int64, membership: String?, prevEvents: [String], authEvents: [String], pdu: [UInt8]
    ) {
        self.eventID = eventID
        self.roomID = roomID
        self.type = type
        self.stateKey = stateKey
        self.sender = sender
        self.depth = depth
        self.originServerTS = originServerTS
        self.membership = membership
        self.prevEvents = prevEvents
        self.authEvents = authEvents
        self.pdu = pdu
    }
}

/// A stored event as a leave or a template is decided on: its ID, its depth and its PDU exactly as
/// stored (`EventColumns.selectPDU`). Everything else is in the PDU.
public struct StoredPDU: Sendable, Equatable {
    public let eventID: String
    public let depth: Int64
    /// Where the event was stored in the event stream (`stream_ordering`).
    public let streamPosition: Int64
    /// The PDU's JSON text exactly as stored and served.
    public let pdu: [UInt8]

    public init(eventID: String, depth: Int64, streamPosition: Int64, pdu: [UInt8]) {
        self.eventID = eventID
        self.depth = depth
        self.streamPosition = streamPosition
        self.pdu = pdu
    }
}
