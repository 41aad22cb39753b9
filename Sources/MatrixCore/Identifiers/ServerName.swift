/// A server name: a DNS name, an IPv4 literal or a bracketed IPv6 literal, with an optional
/// port (1–65535). Case-sensitive, compared as written.
///
/// DNS names follow Synapse's rule: labels of `[0-9A-Za-z-]` separated by single dots (no
/// empty label, no trailing dot, no `_`), at most 255 bytes. Four dot-separated groups of 1–3
/// digits are an IPv4 literal and must each be at most 255.
public struct ServerName: Sendable, BytewiseIdentifier, CustomStringConvertible {
    /// The whole server name, as given.
    public let text: String
    /// The name without its port; an IPv6 literal keeps its brackets.
    public let host: String
    /// The explicit port, if any.
    public let port: Int?
    /// Whether ``host`` is an IPv4 or IPv6 literal rather than a DNS name.
    public let isIPLiteral: Bool

    public init?(_ text: String) {
        // Read in place through the UTF-8 view: no copy of the bytes, and `host` is `text` itself
        // when there is no port.
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 255 else { return nil }
        let hostEnd: String.Index
        if bytes.first == UInt8(ascii: "[") {
            guard let closing = bytes.firstIndex(of: UInt8(ascii: "]")),
                  IPAddressLiteral.isIPv6(ArraySlice(bytes[bytes.index(after: bytes.startIndex)..<closing]))
            else { return nil }
            hostEnd = bytes.index(after: closing)
            isIPLiteral = true
        } else {
            hostEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            let hostBytes = bytes[..<hostEnd]
            if IPAddressLiteral.looksLikeIPv4(hostBytes) {
                guard IPAddressLiteral.isIPv4(hostBytes) else { return nil }
                isIPLiteral = true
            } else {
                guard Self.isDNSName(hostBytes) else { return nil }
                isIPLiteral = false
            }
        }
        self.text = text
        if hostEnd == bytes.endIndex {
            port = nil
            host = text
        } else {
            guard bytes[hostEnd] == UInt8(ascii: ":"), let port = Self.port(bytes[bytes.index(after: hostEnd)...]) else { return nil }
            self.port = port
            // Every byte before `hostEnd` was checked to be ASCII, so it is a character boundary.
            host = String(text[..<hostEnd])
        }
    }

    public var description: String { text }

    /// `[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*`
    private static func isDNSName(_ bytes: some Collection<UInt8>) -> Bool {
        var labelLength = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."):
                guard labelLength > 0 else { return false }
                labelLength = 0
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "-"):
                labelLength += 1
            default:
                return false
            }
        }
        return labelLength > 0
    }

    /// 1–5 digits with a value in 1...65535.
    private static func port(_ digits: some Collection<UInt8>) -> Int? {
        guard (1...5).contains(digits.count), digits.allSatisfy(IPAddressLiteral.isDigit) else { return nil }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return (1...65535).contains(value) ? value : nil
    }
}
