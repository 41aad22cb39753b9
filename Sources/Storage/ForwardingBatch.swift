/// An accepted event due to a destination, as a sender reads it.
public struct ForwardedEvent: Sendable, Equatable {
    public let roomID: String
    public let eventID: String
    public let streamPosition: Int64
    /// The PDU as stored (with our signature), ready to put in a transaction; nil when the claim
    /// left it out because the sender said it holds it (``ForwardingStore/complete(_:delivered:thenClaimUpTo:lease:safe:holding:)``).
    public let pdu: [UInt8]?

    public init(roomID: String, eventID: String, streamPosition: Int64, pdu: [UInt8]?) {
        self.roomID = roomID
        self.eventID = eventID
        self.streamPosition = streamPosition
        self.pdu = pdu
    }

    /// The same event carrying `pdu`.
    public func with(pdu: [UInt8]) -> ForwardedEvent {
        ForwardedEvent(roomID: roomID, eventID: eventID, streamPosition: streamPosition, pdu: pdu)
    }
}

/// What one claim of a destination holds: its next due events, the positions they span and the
/// lease that covers them (`ForwardingStore.claim`).
public struct ForwardingBatch: Sendable, Equatable {
    public let destination: String
    /// The lease's owner token: completing or failing releases the lease only while it is ours.
    public let owner: String
    /// The destination's position when claimed: everything due at or below it was delivered.
    public let after: Int64
    /// Due events after `after`, in stream order.
    public let events: [ForwardedEvent]
    /// The position the destination reaches once `events` are delivered: the last event's, or the
    /// stream's head when the claim found fewer than it asked for (nothing else due up to there).
    public let through: Int64

    public init(destination: String, owner: String, after: Int64, events: [ForwardedEvent], through: Int64) {
        self.destination = destination
        self.owner = owner
        self.after = after
        self.events = events
        self.through = through
    }

    /// The federation transaction ID: a function of the positions the batch spans, so a full batch
    /// sent again after its sender died (same position, same events) carries the same ID and a
    /// receiver that already processed it answers from its transaction cache. A short batch (ended
    /// at the safe point) claimed again may carry more events — those accepted since — under a new
    /// ID: the receiver then skips the repeated PDUs by event ID. Different events never share an
    /// ID: the destination's position only grows.
    public var transactionID: String { "\(after).\(events.last?.streamPosition ?? through)" }
}

/// Per-destination exponential back-off: after the n-th consecutive failure a destination waits
/// `min(maximum, base · 2^(n−1))` before its next try.
public struct BackoffPolicy: Sendable {
    public var base: Duration
    public var maximum: Duration

    public init(base: Duration = .seconds(1), maximum: Duration = .seconds(3_600)) {
        self.base = base
        self.maximum = maximum
    }
}
