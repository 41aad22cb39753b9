/// The shared shape of Matrix identifiers: a sigil, an opaque part and (usually) `:domain`.
enum SigilIdentifier {
    /// The longest identifier allowed, in UTF-8 bytes, sigil included.
    static let maxBytes = 255

    /// The base64 alphabets a reference hash may be written in.
    enum HashAlphabet {
        case standard
        case urlSafe
    }

    /// The two forms of room and event IDs.
    enum Form {
        /// `<sigil>opaque:domain`, with a valid server name as domain.
        case domain(String)
        /// `<sigil>` + a 43-character unpadded base64 reference hash.
        case referenceHash

        var server: String? {
            if case .domain(let server) = self { return server }
            return nil
        }
    }

    /// Splits `text` after its sigil byte at the **first** `:` byte. `nil` if `text` does not start
    /// with `sigil` or is longer than ``maxBytes``. Works on bytes, not characters: a `:` followed by
    /// a combining mark is one `Character` that is not `":"`, yet it is the separator.
    static func parts(of text: String, sigil: UInt8) -> (opaque: Substring, domain: Substring?)? {
        guard text.utf8.count <= maxBytes, text.utf8.first == sigil else { return nil }
        let body = text.utf8.dropFirst()
        guard let colon = body.firstIndex(of: UInt8(ascii: ":")) else { return (Substring(body), nil) }
        return (Substring(body[..<colon]), Substring(body[body.index(after: colon)...]))
    }

    /// Which form `text` has: a non-empty opaque part (no NUL) with a valid server name, or a
    /// reference hash written in one of `hashAlphabets`. `nil` if neither.
    static func form(of text: String, sigil: UInt8, hashAlphabets: [HashAlphabet]) -> Form? {
        guard let (opaque, domain) = parts(of: text, sigil: sigil) else { return nil }
        if let domain {
            let server = String(domain)
            guard !opaque.isEmpty, !opaque.utf8.contains(0), ServerName(server) != nil else { return nil }
            return .domain(server)
        }
        return hashAlphabets.contains { isReferenceHash(opaque, alphabet: $0) } ? .referenceHash : nil
    }

    /// A 32-byte reference hash in unpadded base64 (43 characters) of one alphabet.
    private static func isReferenceHash(_ text: Substring, alphabet: HashAlphabet) -> Bool {
        text.utf8.count == 43 && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"): return true
            case UInt8(ascii: "-"), UInt8(ascii: "_"): return alphabet == .urlSafe
            case UInt8(ascii: "+"), UInt8(ascii: "/"): return alphabet == .standard
            default: return false
            }
        }
    }
}
