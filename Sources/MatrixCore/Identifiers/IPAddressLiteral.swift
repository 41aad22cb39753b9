/// Textual IP address checks for server names (RFC 3986 IPv4, RFC 4291 §2.2 IPv6).
enum IPAddressLiteral {
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- UInt8(ascii: "a") < 6
    }

    /// Four dot-separated groups of 1–3 digits (whatever their values).
    static func looksLikeIPv4(_ bytes: some Collection<UInt8>) -> Bool {
        var groups = 1
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, groups < 4 else { return false }
                groups += 1
                digits = 0
            } else {
                guard isDigit(byte), digits < 3 else { return false }
                digits += 1
            }
        }
        return groups == 4 && digits > 0
    }

    /// A dotted quad whose numbers are all at most 255.
    static func isIPv4(_ bytes: some Collection<UInt8>) -> Bool {
        guard looksLikeIPv4(bytes) else { return false }
        var group = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                group = 0
            } else {
                group = group * 10 + Int(byte - UInt8(ascii: "0"))  // at most 3 digits: ≤ 999
                guard group <= 255 else { return false }
            }
        }
        return true
    }

    /// An IPv6 address in text form: eight groups of 1–4 hex digits, or fewer around one `::`;
    /// the last 32 bits may be written as a dotted quad. No zone index.
    static func isIPv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard (2...45).contains(bytes.count) else { return false }
        let doubleColon = bytes.indices.dropLast().first {
            bytes[$0] == UInt8(ascii: ":") && bytes[$0 + 1] == UInt8(ascii: ":")
        }
        guard let doubleColon else { return groupCount(bytes, ipv4TailAllowed: true) == 8 }
        guard let before = groupCount(bytes[..<doubleColon], ipv4TailAllowed: false),
              let after = groupCount(bytes[(doubleColon + 2)...], ipv4TailAllowed: true)
        else { return false }
        return before + after <= 7
    }

    /// How many 16-bit groups `part` (colon-separated) stands for; `nil` if a group is malformed.
    private static func groupCount(_ part: ArraySlice<UInt8>, ipv4TailAllowed: Bool) -> Int? {
        if part.isEmpty { return 0 }
        let groups = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var count = 0
        for (position, group) in groups.enumerated() {
            if ipv4TailAllowed, position == groups.count - 1, group.contains(UInt8(ascii: ".")) {
                guard isIPv4(group) else { return nil }
                count += 2
            } else {
                guard (1...4).contains(group.count), group.allSatisfy(isHexDigit) else { return nil }
                count += 1
            }
        }
        return count
    }
}
