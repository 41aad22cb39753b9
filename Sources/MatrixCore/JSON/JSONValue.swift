/// A JSON value exactly as Matrix federation needs it.
///
/// Integers are kept exact (`Int64`); any number literal with a fraction or an
/// exponent, or an integer outside `Int64`, is kept as its source text in
/// ``nonCanonicalNumber(_:)`` so that callers can refuse it (canonical JSON has
/// no such numbers). Object keys are compared by their exact UTF-8 bytes, never
/// by Swift's Unicode-equivalence `String` equality.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    /// A number canonical JSON cannot carry, as written in the source text.
    case nonCanonicalNumber(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The largest magnitude canonical JSON allows for an integer: 2^53 − 1.
    public static let maxCanonicalInteger: Int64 = 9_007_199_254_740_991

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Member `key` of an object value; `nil` for a non-object or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Whether this value, at every depth, can be written as canonical JSON:
    /// no non-integer numbers, no integers beyond ±(2^53 − 1).
    public var isCanonicalCompatible: Bool {
        switch self {
        case .null, .bool, .string: return true
        case .integer(let i): return i >= -Self.maxCanonicalInteger && i <= Self.maxCanonicalInteger
        case .nonCanonicalNumber: return false
        case .array(let a): return a.allSatisfy(\.isCanonicalCompatible)
        case .object(let o): return o.members.allSatisfy { $0.value.isCanonicalCompatible }
        }
    }

    /// The source text of the first number (depth first, in key order) that is not a 64-bit integer
    /// — a fraction, an exponent, or an integer outside `Int64` — or `nil` if every number is an `Int64`.
    /// Such a body has no portable signed form; any `Int64` does (written in plain decimal, as Synapse
    /// and gomatrixserverlib sign old-room events).
    public var firstNonInt64Number: String? {
        switch self {
        case .null, .bool, .integer, .string: return nil
        case .nonCanonicalNumber(let text): return text
        case .array(let elements): return elements.lazy.compactMap(\.firstNonInt64Number).first
        case .object(let object): return object.members.lazy.compactMap(\.value.firstNonInt64Number).first
        }
    }

    /// Equal when the JSON texts are: strings and number texts compare by their UTF-8 bytes
    /// (Swift's `String ==` would call `"\u{e9}"` and `"e\u{301}"` equal, yet they hash differently).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let l), .bool(let r)): return l == r
        case (.integer(let l), .integer(let r)): return l == r
        case (.nonCanonicalNumber(let l), .nonCanonicalNumber(let r)): return UTF8Order.equal(l, r)
        case (.string(let l), .string(let r)): return UTF8Order.equal(l, r)
        case (.array(let l), .array(let r)): return l == r
        case (.object(let l), .object(let r)): return l == r
        default: return false
        }
    }
}

/// A JSON object whose members are kept sorted by the UTF-8 bytes of their
/// keys (canonical JSON order), with keys unique byte for byte.
public struct JSONObject: Sendable, Equatable {
    /// One member of an object.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }

        public static func == (lhs: Member, rhs: Member) -> Bool {
            UTF8Order.equal(lhs.key, rhs.key) && lhs.value == rhs.value
        }
    }

    /// The members in canonical order (ascending UTF-8 bytes of the key).
    public private(set) var members: [Member]

    public init() {
        members = []
    }

    /// Builds an object from key/value pairs; a later pair replaces an earlier one with the same key.
    public init(_ pairs: [(String, JSONValue)]) {
        members = []
        members.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    /// Builds an object from members in any order, sorting them by key bytes (the parser's
    /// path; members already in order are taken as they are). Returns `nil` if two keys are equal.
    public init?(sortingUniqueMembers unsorted: [Member]) {
        let isStrictlyAscending = zip(unsorted, unsorted.dropFirst()).allSatisfy { UTF8Order.precedes($0.0.key, $0.1.key) }
        if isStrictlyAscending {
            members = unsorted
            return
        }
        var sorted = unsorted
        sorted.sort { UTF8Order.precedes($0.key, $1.key) }
        for i in sorted.indices.dropFirst() where UTF8Order.equal(sorted[i - 1].key, sorted[i].key) {
            return nil
        }
        members = sorted
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    /// Index of `key` in ``members``, or where it would be inserted (binary search in UTF-8 byte order).
    private func position(of key: String) -> (index: Int, found: Bool) {
        var low = 0
        var high = members.count
        while low < high {
            let mid = (low + high) / 2
            let order = UTF8Order.compare(members[mid].key, key)
            if order < 0 {
                low = mid + 1
            } else if order > 0 {
                high = mid
            } else {
                return (mid, true)
            }
        }
        return (low, false)
    }

    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = position(of: key)
            return found ? members[index].value : Optional<JSONValue>.none
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, .some(let value)): members[index].value = value
            case (true, .none): members.remove(at: index)
            case (false, .some(let value)): members.insert(Member(key: key, value: value), at: index)
            case (false, .none): break
            }
        }
    }

    /// A copy without the given top-level keys.
    public func removing(_ keys: String...) -> JSONObject {
        var copy = self
        for key in keys { copy[key] = nil }
        return copy
    }

    /// A copy keeping only the given top-level keys (matched byte for byte).
    public func keeping(_ keys: Set<ExactString>) -> JSONObject {
        var copy = JSONObject()
        copy.members = members.filter { keys.contains(ExactString($0.key)) }
        return copy
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}
