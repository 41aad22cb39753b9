/// An estimate of the heap memory a parsed JSON value holds: each array's and object's storage
/// (a header and its elements) and each string too long to be stored inline (over 15 UTF-8
/// bytes), recursively. Scalars and short strings live inside their container's elements. What a
/// cache of parsed events counts against its budget: a 64 KiB event can hold 1.4 MB parsed
/// (`[[0],[0],…]`: 16,000 arrays), 22 times its bytes.
extension JSONValue {
    /// The estimated heap bytes of this value (0 for scalars and short strings).
    public var estimatedHeapBytes: Int {
        switch self {
        case .null, .bool, .integer: 0
        case .nonCanonicalNumber(let text), .string(let text): JSONFootprint.bytes(of: text)
        case .array(let elements):
            JSONFootprint.storage(count: elements.count, stride: MemoryLayout<JSONValue>.stride)
                + elements.reduce(0) { $0 + $1.estimatedHeapBytes }
        case .object(let object): object.estimatedHeapBytes
        }
    }
}

extension JSONObject {
    /// The estimated heap bytes of this object's members, keys and values.
    public var estimatedHeapBytes: Int {
        JSONFootprint.storage(count: members.count, stride: MemoryLayout<Member>.stride)
            + members.reduce(0) { $0 + JSONFootprint.bytes(of: $1.key) + $1.value.estimatedHeapBytes }
    }
}

private enum JSONFootprint {
    /// A heap object's header (metadata, reference counts, count and capacity).
    static let header = 32

    static func storage(count: Int, stride: Int) -> Int {
        count == 0 ? 0 : header + count * stride
    }

    static func bytes(of text: String) -> Int {
        let count = text.utf8.count
        return count <= 15 ? 0 : header + count + 1
    }
}
