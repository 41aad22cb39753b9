import LeaveService
import MatrixCore

/// A request's route, decoded from the raw request target (path parameters percent-decoded
/// once, segment by segment, so an encoded `/` in an event ID never splits the path).
public enum Route: Equatable, Sendable {
    case serverKeys
    case version
    case health
    case ready
    case metrics
    case makeLeave(roomID: String, userID: String)
    case sendLeave(apiVersion: Int, roomID: String, eventID: String)
    case event(eventID: String)

    /// The label used in metrics and logs (no identifiers, bounded cardinality).
    public var name: String {
        switch self {
        case .serverKeys: "key_server"
        case .version: "version"
        case .health: "health"
        case .ready: "ready"
        case .metrics: "metrics"
        case .makeLeave: "make_leave"
        case .sendLeave(let apiVersion, _, _): "send_leave_v\(apiVersion)"
        case .event: "event"
        }
    }

    /// The method this route answers.
    public var method: String {
        switch self {
        case .sendLeave: "PUT"
        default: "GET"
        }
    }

    /// Whether the route is for operators and probes only (served by the internal listener when there is one).
    public var isOperational: Bool {
        switch self {
        case .metrics, .ready: true
        default: false
        }
    }

    /// Whether the route is a federation route that needs X-Matrix authentication.
    public var needsAuthentication: Bool {
        switch self {
        case .makeLeave, .sendLeave, .event: true
        default: false
        }
    }

    /// Finds the route for a method and raw request target, or the error to answer:
    /// 404 `M_UNRECOGNIZED` for an unknown path, 405 `M_UNRECOGNIZED` (naming the path's methods)
    /// for a known path and another method.
    /// Only an origin-form target (RFC 9112 §3.2.1: it starts with `/`) names a route: the parser also
    /// lets through `*…` and absolute forms, and the pass-through appends the target to the
    /// homeserver's URL — `*@10.0.0.7:9200/_matrix/…` would make `10.0.0.7:9200` its host.
    public static func match(method: String, target: String) throws(MatrixError) -> Route {
        // Split at the bytes `?` and `/`: a `/` followed by a combining mark is one `Character`.
        // No route has more than `maxSegments`.
        let utf8 = target.utf8
        let path = utf8[..<(utf8.firstIndex(of: UInt8(ascii: "?")) ?? utf8.endIndex)]
        guard path.first == UInt8(ascii: "/") else { throw .unrecognized("Unrecognized request") }
        var segments: [ExactString] = []
        segments.reserveCapacity(maxSegments)
        var start = path.index(after: path.startIndex)
        while true {
            let end = path[start...].firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
            guard segments.count < maxSegments, let decoded = percentDecode(Substring(path[start..<end])) else {
                throw .unrecognized("Unrecognized request")
            }
            segments.append(ExactString(decoded))
            guard end < path.endIndex else { break }
            start = path.index(after: end)
        }
        guard let route = route(for: segments) else { throw .unrecognized("Unrecognized request") }
        guard route.method == method || (method == "HEAD" && route.method == "GET") else {
            throw .methodNotAllowed("Method \(method) not allowed on this endpoint",
                                    allowed: route.method == "GET" ? "GET, HEAD" : route.method)
        }
        return route
    }

    /// The most segments a route has.
    private static let maxSegments = 6

    /// Segments compare byte for byte (``ExactString``) with the literals.
    private static func route(for s: [ExactString]) -> Route? {
        switch s.count {
        case 1 where s[0] == "health": return .health
        case 1 where s[0] == "ready": return .ready
        case 1 where s[0] == "metrics": return .metrics
        // Also the deprecated `/_matrix/key/v2/server/{keyId}` (older Synapses fetch it) and a
        // trailing `/`: the same document whatever the key ID, as Synapse serves it.
        case 4...5 where s[0] == "_matrix" && s[1] == "key" && s[2] == "v2" && s[3] == "server": return .serverKeys
        case 4 where s[0] == "_matrix" && s[1] == "federation" && s[2] == "v1" && s[3] == "version": return .version
        case 5 where s[0] == "_matrix" && s[1] == "federation" && s[2] == "v1" && s[3] == "event":
            return .event(eventID: s[4].text)
        case 6 where s[0] == "_matrix" && s[1] == "federation" && s[2] == "v1" && s[3] == "make_leave":
            return .makeLeave(roomID: s[4].text, userID: s[5].text)
        case 6 where s[0] == "_matrix" && s[1] == "federation" && s[3] == "send_leave":
            switch s[2] {
            case "v1": return .sendLeave(apiVersion: 1, roomID: s[4].text, eventID: s[5].text)
            case "v2": return .sendLeave(apiVersion: 2, roomID: s[4].text, eventID: s[5].text)
            default: return nil
            }
        default: return nil
        }
    }

    /// Percent-decodes one path segment as UTF-8; `nil` for a bad escape or invalid UTF-8.
    static func percentDecode(_ segment: Substring) -> String? {
        guard segment.utf8.contains(UInt8(ascii: "%")) else { return String(segment) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.utf8.count)
        var iterator = segment.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
