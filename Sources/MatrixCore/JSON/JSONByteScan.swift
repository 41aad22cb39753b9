/// Eight-bytes-at-a-time search for the bytes that end a plain run inside a JSON string, so the
/// parser and the writer can skip ordinary text a word at a time.
///
/// The masks have the high bit set in each marked byte. The borrow trick used for them can
/// only mark extra bytes *above* a byte that truly matches, so the lowest mark is exact.
enum JSONByteScan {
    static let wordSize = 8
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `offset`, the first in the lowest bits (caller guarantees
    /// `offset + 8 <= buffer.count`).
    @inline(__always)
    static func word(at offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawBufferPointer(buffer).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Marks the bytes that are `"`, `\` or below 0x20.
    @inline(__always)
    static func quoteBackslashOrControlMask(_ word: UInt64) -> UInt64 {
        let control = (word &- ones &* 0x20) & ~word
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return (control | zeroQuote | zeroBackslash) & highBits
    }

    /// Marks the bytes that are 0x80 or above.
    @inline(__always)
    static func nonASCIIMask(_ word: UInt64) -> UInt64 {
        word & highBits
    }

    /// Offset within the word of the first marked byte; 8 if none is.
    @inline(__always)
    static func firstMarkedByte(_ mask: UInt64) -> Int {
        mask.trailingZeroBitCount / 8
    }

    /// The index of the first `"`, `\` or control byte of `text` at or after `start`
    /// (`text.count` when there is none), skipping plain text a word at a time.
    static func nextEscaped(in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var position = start
        while position < text.count {
            if text.count - position >= wordSize {
                let mask = quoteBackslashOrControlMask(word(at: position, in: text))
                if mask != 0 { return position + firstMarkedByte(mask) }
                position += wordSize
                continue
            }
            let byte = text[position]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return position }
            position += 1
        }
        return position
    }
}
