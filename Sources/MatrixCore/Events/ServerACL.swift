import BoundedCollections
import Synchronization

/// Server ACL evaluation (`m.room.server_acl`; spec: leave-handshake.md §6).
///
/// The port is removed from the server name (IPv6 literals keep their brackets); an IP literal
/// is denied when `allow_ip_literals` is `false`; then a `deny` glob match denies, an `allow`
/// glob match allows, and anything else is denied. Globs: `*` any run of characters, `?` exactly
/// one, all else literal; whole-name, case-insensitive for ASCII letters only — everything else is
/// compared by code point, i.e. byte for byte (a glob's KELVIN SIGN U+212A never matches `k`).
/// Non-list `allow`/`deny` count as empty, non-string entries are ignored, a non-boolean
/// `allow_ip_literals` counts as `true`.
public enum ServerACL {
    /// Whether `server` (a server name, possibly with a port) may take part in the room.
    /// `aclContent` is the content of the room's `m.room.server_acl` state event; `nil` (no such
    /// event) allows every server.
    public static func allows(_ server: String, aclContent: JSONObject?) -> Bool {
        aclContent.map { Rules(content: $0).allows(server) } ?? true
    }

    /// One ACL event's rules, its globs prepared once, and its verdicts remembered by what they
    /// depend on — the name's host without its port, ASCII letters lowered, otherwise byte for
    /// byte (so `evil.example:1` … `:1024` are one entry, not 1,024 evaluations; the
    /// ``Rules/rememberedVerdicts`` most recently used). A 64 KiB ACL
    /// of short globs against a 255-byte name costs ≈ 20 ms to evaluate (16,000 globs), so an ACL
    /// event parsed once (``AuthEvent/serverACL``) evaluates it once per server, not per request.
    public final class Rules: Sendable {
        /// How many verdicts one ACL event remembers.
        public static let rememberedVerdicts = 1024

        private let allowsIPLiterals: Bool
        private let deny: [[Unicode.Scalar]]
        private let allow: [[Unicode.Scalar]]
        private let verdicts = Mutex(BoundedLRU<ExactString, Bool>(capacity: Rules.rememberedVerdicts))

        public init(content: JSONObject) {
            allowsIPLiterals = content["allow_ip_literals"] != .bool(false)
            deny = ServerACL.globs(content["deny"])
            allow = ServerACL.globs(content["allow"])
        }

        public func allows(_ server: String) -> Bool {
            let host = ServerACL.hostWithoutPort(server)
            let name = ServerACL.asciiLowercased(host)
            var key = ""
            key.unicodeScalars.append(contentsOf: name)
            let exactKey = ExactString(key)
            if let known = verdicts.withLock({ $0.value(for: exactKey) }) { return known }
            let verdict = evaluate(host: host, name: name)
            _ = verdicts.withLock { $0.set(verdict, for: exactKey) }
            return verdict
        }

        /// How many verdicts are remembered now.
        var rememberedCount: Int { verdicts.withLock { $0.count } }

        /// `host`: the server name without its port; `name`: the same, ASCII letters lowered.
        private func evaluate(host: Substring, name: [Unicode.Scalar]) -> Bool {
            if !allowsIPLiterals, ServerACL.isIPLiteral(host) { return false }
            if deny.contains(where: { ServerACL.matches(name, glob: $0) }) { return false }
            return allow.contains(where: { ServerACL.matches(name, glob: $0) })
        }
    }

    /// `[::1]:8448` → `[::1]`, `host:443` → `host`: a name ending in `]` is kept whole, else
    /// everything from the last `:` is removed.
    static func hostWithoutPort(_ server: String) -> Substring {
        let bytes = server.utf8
        guard bytes.last != UInt8(ascii: "]"), let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else {
            return server[...]
        }
        return Substring(bytes[..<colon])
    }

    /// A bracketed IPv6 literal, or an IPv4 dotted quad.
    static func isIPLiteral(_ host: Substring) -> Bool {
        if host.utf8.first == UInt8(ascii: "[") { return true }
        return IPAddressLiteral.isIPv4(host.utf8)
    }

    private static func globs(_ value: JSONValue?) -> [[Unicode.Scalar]] {
        (value?.arrayValue ?? []).compactMap { $0.stringValue.map { asciiLowercased($0) } }
    }

    /// The code points of `text` with `A`–`Z` lowered; nothing else changes (Unicode case mapping
    /// would fold KELVIN SIGN U+212A to `k`).
    private static func asciiLowercased(_ text: some StringProtocol) -> [Unicode.Scalar] {
        text.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32) ?? scalar : scalar
        }
    }

    /// Whole-string glob match with `*` and `?`, by Unicode scalar.
    static func matches(_ name: [Unicode.Scalar], glob: [Unicode.Scalar]) -> Bool {
        var nameIndex = 0
        var globIndex = 0
        var star: (glob: Int, name: Int)? = nil
        while nameIndex < name.count {
            if globIndex < glob.count, glob[globIndex] == "*" {
                star = (globIndex, nameIndex)
                globIndex += 1
            } else if globIndex < glob.count, glob[globIndex] == "?" || glob[globIndex] == name[nameIndex] {
                nameIndex += 1
                globIndex += 1
            } else if let resume = star {
                star = (resume.glob, resume.name + 1)
                nameIndex = resume.name + 1
                globIndex = resume.glob + 1
            } else {
                return false
            }
        }
        while globIndex < glob.count, glob[globIndex] == "*" { globIndex += 1 }
        return globIndex == glob.count
    }
}
