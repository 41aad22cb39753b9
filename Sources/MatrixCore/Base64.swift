/// Unpadded base64 as Matrix uses it (RFC 4648 without `=`): standard alphabet for hashes, keys
/// and signatures, URL-safe alphabet for v4+ event IDs.
public enum Base64 {
    private static let standardAlphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    private static let urlSafeAlphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    private static let invalid: UInt8 = 0xFF

    /// Six-bit value of each byte in either alphabet; ``invalid`` for every other byte.
    private static let decodingTable: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for alphabet in [standardAlphabet, urlSafeAlphabet] {
            alphabet.withUTF8Buffer { characters in
                for (value, character) in characters.enumerated() { table[Int(character)] = UInt8(value) }
            }
        }
        return table
    }()

    /// Standard alphabet, no `=` padding: 32 bytes → 43 characters, 64 bytes → 86.
    public static func encodeUnpadded(_ bytes: [UInt8]) -> String {
        encode(bytes, alphabet: standardAlphabet)
    }

    /// URL-safe alphabet (`-` and `_`), no padding.
    public static func encodeUnpaddedURLSafe(_ bytes: [UInt8]) -> String {
        encode(bytes, alphabet: urlSafeAlphabet)
    }

    /// Decodes either alphabet (even mixed), with or without `=` padding; `nil` for any other
    /// character, misplaced padding or an impossible length. Like Synapse, unused low bits of the
    /// last character are ignored.
    public static func decode(_ text: String) -> [UInt8]? {
        var characters = Substring(text).utf8
        let paddingCount = characters.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        if paddingCount > 0 {
            guard paddingCount <= 2, characters.count.isMultiple(of: 4) else { return nil }
            characters = characters.dropLast(paddingCount)
        }
        guard characters.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bitCount = 0
        for character in characters {
            let value = decodingTable[Int(character)]
            guard value != invalid else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
            }
        }
        return bytes
    }

    private static func encode(_ bytes: [UInt8], alphabet: StaticString) -> String {
        let length = (bytes.count * 4 + 2) / 3
        return alphabet.withUTF8Buffer { characters in
            String(unsafeUninitializedCapacity: length) { output in
                var written = 0
                /// Writes the top `count` six-bit groups of the 24-bit `bits`.
                func emit(_ bits: UInt32, count: Int) {
                    for shift in stride(from: 18, to: 18 - 6 * count, by: -6) {
                        output[written] = characters[Int(bits >> UInt32(shift) & 0x3F)]
                        written += 1
                    }
                }
                var position = 0
                while bytes.count - position >= 3 {
                    emit(UInt32(bytes[position]) << 16 | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]),
                         count: 4)
                    position += 3
                }
                switch bytes.count - position {
                case 2: emit(UInt32(bytes[position]) << 16 | UInt32(bytes[position + 1]) << 8, count: 3)
                case 1: emit(UInt32(bytes[position]) << 16, count: 2)
                default: break
                }
                return written
            }
        }
    }
}
