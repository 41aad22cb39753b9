/// A user ID, `@localpart:server_name`, at most 255 bytes.
public struct UserID: Sendable, BytewiseIdentifier, CustomStringConvertible {
    /// The whole ID, as given.
    public let text: String
    /// Between `@` and the first `:`.
    public let localpart: String
    /// Everything after the first `:` (a valid server name, possibly with a port).
    public let server: String

    /// Parses a user ID. With `historical` (for IDs inside events received over federation),
    /// the localpart may be any text without NUL, even empty; without it, the current grammar
    /// applies: non-empty, only `a-z 0-9 . _ = - / +`.
    public init?(_ text: String, historical: Bool = true) {
        guard let (localpart, domain) = SigilIdentifier.parts(of: text, sigil: UInt8(ascii: "@")), let domain else { return nil }
        let server = String(domain)
        guard ServerName(server) != nil else { return nil }
        if historical {
            guard !localpart.utf8.contains(0) else { return nil }
        } else {
            guard !localpart.isEmpty, localpart.utf8.allSatisfy(Self.isCurrentLocalpartByte) else { return nil }
        }
        self.text = text
        self.localpart = String(localpart)
        self.server = server
    }

    public var description: String { text }

    private static func isCurrentLocalpartByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "="), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "+"):
            return true
        default:
            return false
        }
    }
}
