#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A string compared and hashed by its UTF-8 bytes: the key of every dictionary and set that holds
/// identifiers (room, event and user IDs, server names, key IDs, state keys, JSON member names).
///
/// Swift's `String` equality, hashing, `Set<String>` and `[String: X]` follow Unicode canonical
/// equivalence: `"\u{212A}" == "K"` (KELVIN SIGN), `"\u{E9}" == "e\u{301}"`, `"\u{2126}" == "\u{3A9}"`.
/// Two identifiers that differ in their bytes are different identifiers (the specification and
/// every other homeserver compare bytes), so such a dictionary would merge two events, users or
/// keys into one.
public struct ExactString: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The string, as given.
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(stringLiteral value: String) {
        text = value
    }

    public var description: String { text }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.text.bytesEqual(rhs.text)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        let hashedContiguously: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
        if hashedContiguously == nil {
            for byte in text.utf8 { hasher.combine(byte) }
        }
    }
}

extension StringProtocol {
    /// Whether the UTF-8 bytes of the two strings are the same: how identifiers, key IDs and JSON
    /// member names are compared (never `==`, which follows Unicode canonical equivalence).
    @inlinable
    public func bytesEqual(_ other: some StringProtocol) -> Bool {
        // Native strings keep their UTF-8 contiguous: compare the two buffers (lengths first)
        // rather than stepping through two `UTF8View`s byte by byte.
        let contiguous = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in
                guard mine.count == theirs.count else { return false }
                guard let left = mine.baseAddress, let right = theirs.baseAddress else { return true }   // both empty
                return memcmp(left, right, mine.count) == 0
            }
        }
        if let contiguous = contiguous ?? nil { return contiguous }
        return utf8.elementsEqual(other.utf8)
    }

    /// Whether the UTF-8 bytes of the string start with those of `prefix` (`hasPrefix` compares
    /// characters under canonical equivalence: `"@\u{301}x".hasPrefix("@")` is false).
    @inlinable
    public func bytesStart(with prefix: some StringProtocol) -> Bool {
        utf8.starts(with: prefix.utf8)
    }
}

extension Optional where Wrapped: StringProtocol {
    /// Byte-for-byte equality where either side may be absent (both absent: equal).
    @inlinable
    public func bytesEqual(_ other: (some StringProtocol)?) -> Bool {
        switch (self, other) {
        case (nil, nil): return true
        case (let left?, let right?): return left.bytesEqual(right)
        default: return false
        }
    }
}

/// An identifier type whose equality and hash are those of the UTF-8 bytes of its ``text``
/// (never Swift's synthesised, Unicode-equivalence `String` equality).
public protocol BytewiseIdentifier: Hashable {
    /// The whole identifier, as given.
    var text: String { get }
}

extension BytewiseIdentifier {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.text.bytesEqual(rhs.text)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ExactString(text))
    }
}
