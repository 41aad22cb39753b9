import MatrixCore
import MatrixCrypto

/// Why a `make_leave` or `send_leave` is refused, decided without I/O. Each case is one rule of
/// the contract; the HTTP status and errcode each maps to are given in exactly one place
/// (`MatrixError.init(_: LeaveRefusal)` in WorkerApp). ``description`` is the text the remote
/// server is told.
public enum LeaveRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body's `room_id` is not the path's.
    case roomIDMismatch
    /// The PDU breaks the room version's format (a size limit among them).
    case malformed(PDUError)
    /// The event's ID is not the path's.
    case eventIDMismatch(computed: String, path: String)
    /// Not an `m.room.member` state event.
    case notAMemberStateEvent
    /// `membership` is not `leave`.
    case notALeave
    /// `state_key` is not the sender.
    case stateKeyNotSender
    /// send_leave: the sender is not a user of the requesting server.
    case senderNotOnOrigin(sender: String, origin: String)
    /// make_leave: the user is not a user of the requesting server.
    case userNotOnOrigin(user: String, origin: String)
    /// The room's server ACL bans the requesting server.
    case bannedByServerACL(origin: String)
    /// A required signature is missing or does not verify.
    case badSignature(ServerSignatures.Failure)
    /// A required signature could not be checked because keys could not be fetched: nothing decided.
    case signaturesUndecided(ServerSignatures.Failure)
    /// A cited auth event is not an event of this room.
    case authEventNotInRoom(String)
    /// The auth rules refuse the leave against its own auth events.
    case refusedByAuthEvents(AuthError)
    /// A cited prev event is not an event of this room.
    case prevEventNotInRoom(String)
    /// No prev events: the state before the leave would be empty.
    case noPrevEvents
    /// The auth rules refuse the leave against the room's current state.
    case refusedByCurrentState(AuthError)
    /// The auth events do not cite the sender's current member event (the leave was built on an
    /// earlier membership: make a new template with `make_leave`).
    case staleMembershipCited(current: String)
    /// Every prev event was stored before the sender's current member event: the state before the
    /// leave does not hold the membership it was judged against.
    case prevEventsPrecedeMembership(current: String)
    /// The member's membership changed between the decision and the write (another event won).
    case membershipChanged(sender: String, current: String?)
    /// make_leave: the user's membership does not allow a leave.
    case cannotLeave(AuthError)
    /// make_leave: no valid leave event can be built for this user.
    case templateUnbuildable(String)
    /// This worker has no signing key (an import-only runtime) and cannot countersign.
    case noSigningKey
    /// With our signature added the event would be larger than ``PDU/maxBytes``.
    case tooLargeWhenCountersigned(bytes: Int)

    public var description: String {
        switch self {
        case .roomIDMismatch: "room_id of the event does not match the path"
        case .malformed(let error): "\(error)"
        case .eventIDMismatch(let computed, let path): "Event ID \(computed) does not match the path's \(path)"
        case .notAMemberStateEvent: "Not an m.room.member state event"
        case .notALeave: "Not a leave event"
        case .stateKeyNotSender: "state_key and sender must match"
        case .senderNotOnOrigin(let sender, let origin): "Sender \(sender) is not on the requesting server \(origin)"
        case .userNotOnOrigin(let user, let origin): "User \(user) is not from \(origin)"
        case .bannedByServerACL(let origin): "Server \(origin) is banned from this room by its server ACL"
        case .badSignature(let failure): "Bad signature: \(failure)"
        case .signaturesUndecided(let failure): "Could not check the event's signatures: \(failure)"
        case .authEventNotInRoom(let id): "Auth event \(id) is not an event of this room"
        case .refusedByAuthEvents(let error): "Leave refused by its auth events: \(error)"
        case .prevEventNotInRoom(let id): "prev_event \(id) is not an event of this room"
        case .noPrevEvents: "A leave must cite at least one prev_event: with none, the state before it is empty"
        case .refusedByCurrentState(let error): "Leave refused by the room's current state: \(error)"
        case .staleMembershipCited(let current):
            "The leave's auth_events must cite the sender's current membership event \(current); ask make_leave again"
        case .prevEventsPrecedeMembership(let current):
            "The leave's prev_events all precede the sender's current membership event \(current); ask make_leave again"
        case .membershipChanged(let sender, let current):
            "Membership of \(sender) changed to \(current ?? "none") meanwhile; leave refused"
        case .cannotLeave(let error): "You cannot leave this room: \(error)"
        case .templateUnbuildable(let reason): "Cannot build a leave event for this user: \(reason)"
        case .noSigningKey: "This worker has no signing key"
        case .tooLargeWhenCountersigned(let bytes):
            "With this server's signature the leave would be \(bytes) bytes, more than 65536; send a shorter one"
        }
    }

    /// What only the log may say (why keys could not be fetched: addresses, connection errors).
    public var logDetail: String? {
        switch self {
        case .badSignature(let failure), .signaturesUndecided(let failure): failure.logDetail
        default: nil
        }
    }
}
