/// The parser's state over one input buffer: an explicit stack of open containers instead of
/// recursion, so nesting depth costs heap, never call stack.
///
/// Every read of `input` is preceded by an `index < input.count` check (the buffer's own
/// bounds checks are compiled out in release builds).
struct JSONByteParser {
    /// An open container and where its first element or member sits on the shared stack.
    private enum Container {
        case array(firstElement: Int)
        case object(firstMember: Int)
    }

    let input: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0
    /// Reused buffer for strings that contain escapes.
    var scratch: [UInt8] = []

    private var containers: [Container] = []
    /// The elements of every open array, innermost last: one buffer reused for the whole parse,
    /// so each finished array is allocated once, at its exact size.
    private var elements: [JSONValue] = []
    /// The members of every open object, innermost last.
    private var members: [JSONObject.Member] = []
    /// The key waiting for its value in each open object.
    private var pendingKeys: [String] = []

    init(input: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.input = input
        self.maxDepth = maxDepth
    }

    /// Parses the whole input as one JSON value surrounded by optional whitespace.
    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        var value: JSONValue
        nextValue: while true {
            guard index < input.count else { throw syntaxError("unexpected end of input") }
            switch input[index] {
            case UInt8(ascii: "{"):
                try openContainer()
                if consume(UInt8(ascii: "}")) {
                    value = .object(JSONObject())
                } else {
                    containers.append(.object(firstMember: members.count))
                    pendingKeys.append(try parseKey())
                    continue nextValue
                }
            case UInt8(ascii: "["):
                try openContainer()
                if consume(UInt8(ascii: "]")) {
                    value = .array([])
                } else {
                    containers.append(.array(firstElement: elements.count))
                    continue nextValue
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = try parseNumber()
            default:
                throw syntaxError("unexpected character")
            }

            // `value` is complete: hand it to the innermost open container, closing every
            // container that ends right after it.
            while let container = containers.last {
                skipWhitespace()
                guard index < input.count else { throw syntaxError("unexpected end of input") }
                let separator = input[index]
                index += 1
                switch container {
                case .array(let first):
                    elements.append(value)
                    if separator == UInt8(ascii: ",") {
                        skipWhitespace()
                        continue nextValue
                    }
                    guard separator == UInt8(ascii: "]") else { throw syntaxError("expected ',' or ']'", at: index - 1) }
                    value = .array(Array(elements[first...]))
                    elements.removeSubrange(first...)
                case .object(let first):
                    members.append(JSONObject.Member(key: pendingKeys.removeLast(), value: value))
                    if separator == UInt8(ascii: ",") {
                        skipWhitespace()
                        pendingKeys.append(try parseKey())
                        continue nextValue
                    }
                    guard separator == UInt8(ascii: "}") else { throw syntaxError("expected ',' or '}'", at: index - 1) }
                    value = .object(try Self.makeObject(Array(members[first...])))
                    members.removeSubrange(first...)
                }
                containers.removeLast()
            }
            break nextValue
        }
        skipWhitespace()
        guard index == input.count else { throw syntaxError("trailing characters after the JSON value") }
        return value
    }

    /// Steps over an opening bracket and the whitespace after it, enforcing the depth limit.
    private mutating func openContainer() throws(JSONParseError) {
        guard containers.count < maxDepth else { throw .tooDeep }
        index += 1
        skipWhitespace()
    }

    /// Parses `"key"` and the `:` after it, leaving `index` at the member's value.
    private mutating func parseKey() throws(JSONParseError) -> String {
        guard index < input.count, input[index] == UInt8(ascii: "\"") else {
            throw syntaxError("expected a string key")
        }
        let key = try parseString()
        skipWhitespace()
        guard consume(UInt8(ascii: ":")) else { throw syntaxError("expected ':'") }
        return key
    }

    private static func makeObject(_ members: [JSONObject.Member]) throws(JSONParseError) -> JSONObject {
        if let object = JSONObject(sortingUniqueMembers: members) { return object }
        let keys = members.map { Array($0.key.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        let duplicate = zip(keys, keys.dropFirst()).first { $0.0 == $0.1 }?.0 ?? []
        throw .duplicateKey(String(decoding: duplicate, as: UTF8.self))
    }

    /// If the next byte is `byte`, steps over it and the whitespace after it.
    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < input.count, input[index] == byte else { return false }
        index += 1
        skipWhitespace()
        return true
    }

    mutating func skipWhitespace() {
        while index < input.count {
            switch input[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    func syntaxError(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        .syntax(offset: offset ?? index, reason: reason)
    }
}
