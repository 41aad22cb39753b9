/// Byte-wise order of the UTF-8 forms of strings: code-point order, which is canonical JSON's
/// key order. Never Swift's `String` comparison, which follows Unicode canonical equivalence.
enum UTF8Order {
    /// Negative if `lhs` sorts first, zero if the bytes are equal, positive otherwise.
    static func compare(_ lhs: String, _ rhs: String) -> Int {
        let contiguous = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in compare(left, right) }
        }
        if let contiguous, let result = contiguous { return result }
        if lhs.utf8.elementsEqual(rhs.utf8) { return 0 }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8) ? -1 : 1
    }

    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        compare(lhs, rhs) < 0
    }

    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        compare(lhs, rhs) == 0
    }

    private static func compare(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Int {
        for position in 0..<min(left.count, right.count) where left[position] != right[position] {
            return left[position] < right[position] ? -1 : 1
        }
        return left.count - right.count
    }
}
