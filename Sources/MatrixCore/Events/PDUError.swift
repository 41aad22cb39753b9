/// Why a PDU does not conform to its room version's event format. Every case means "malformed"
/// (`400 M_BAD_JSON`) except the size violations (``isSizeViolation``: `413 M_TOO_LARGE`).
public enum PDUError: Error, Equatable, CustomStringConvertible {
    /// A required top-level member is absent.
    case missingMember(String)
    /// A member has the wrong JSON type (`expected` names the type it must have).
    case wrongType(member: String, expected: String)
    /// A member that must be a user, room or event ID is not one of the right form.
    case invalidIdentifier(member: String, value: String)
    /// `type`, `sender`, `room_id`, `state_key` or `event_id` is longer than 255 bytes.
    case memberTooLong(String)
    /// The whole PDU (canonical JSON with signatures, without `unsigned`) exceeds 65536 bytes.
    case tooLarge(bytes: Int)
    /// `prev_events` has more than 20 entries or `auth_events` more than 10.
    case tooManyReferences(member: String, count: Int)
    /// Entry `index` of `prev_events`/`auth_events` is not in the room version's entry format.
    case invalidReference(member: String, index: Int)
    /// `depth` is negative or above the room version's maximum.
    case depthOutOfRange(Int64)
    /// A number with a fraction or an exponent (refused in every room version).
    case nonIntegerNumber(String)
    /// An integer outside ±(2^53 − 1) in a room version with strict canonical JSON (v6+).
    case integerOutOfRange(String)
    /// v12: `auth_events` cites the room's create event (implied by `room_id`, never listed).
    case createEventInAuthEvents(String)

    /// Whether this is a size violation (`413 M_TOO_LARGE`) rather than a format error.
    public var isSizeViolation: Bool {
        switch self {
        case .memberTooLong, .tooLarge: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .missingMember(let name): return "PDU has no '\(name)'"
        case .wrongType(let name, let expected): return "PDU member '\(name)' must be \(expected)"
        case .invalidIdentifier(let name, let value): return "PDU member '\(name)' is not a valid identifier: \(value)"
        case .memberTooLong(let name): return "PDU member '\(name)' is longer than 255 bytes"
        case .tooLarge(let bytes): return "PDU is \(bytes) bytes, more than 65536"
        case .tooManyReferences(let name, let count): return "PDU has \(count) entries in '\(name)'"
        case .invalidReference(let name, let index): return "entry \(index) of '\(name)' is malformed"
        case .depthOutOfRange(let depth): return "depth \(depth) is out of range"
        case .nonIntegerNumber(let text): return "number \(text) is not an integer"
        case .integerOutOfRange(let text): return "integer \(text) is outside ±(2^53-1)"
        case .createEventInAuthEvents(let id): return "auth_events must not contain the create event \(id)"
        }
    }
}
