import MatrixCrypto

/// The bearer token of the internal bridge routes, read from `LEAVE_WORKER_INTERNAL_TOKEN_FILE`
/// (checked like the signing-key file: a regular file of this user or root, no access for others).
struct BridgeToken: Sendable {
    /// Shorter tokens are refused at start-up: they could be guessed.
    static let minimumBytes = 16

    private let digest: [UInt8]

    /// The file's content without surrounding whitespace.
    static func read(path: String) throws(Settings.Problem) -> BridgeToken {
        let variable = Settings.Variable.internalTokenFile
        let text = try SigningKeyFile.readText(path: path, variable: variable)
        let token = Array(text.utf8).trimmingWhitespace
        guard token.count >= minimumBytes else {
            throw Settings.Problem(description: "\(variable.rawValue): \(path) must hold a token of at least \(minimumBytes) bytes")
        }
        return BridgeToken(digest: SHA256.hash(token))
    }

    /// Whether `Authorization` (its only value) is `Bearer <the token>`, compared in constant time:
    /// both sides are hashed first, so neither the length nor the first differing byte shows.
    func admits(_ authorization: [String]) -> Bool {
        guard authorization.count == 1 else { return false }
        let header = Array(authorization[0].utf8)
        let prefix = Array("Bearer ".utf8)
        guard header.count > prefix.count, Array(header[..<prefix.count]) == prefix else { return false }
        let offered = SHA256.hash(Array(header[prefix.count...]))
        var difference: UInt8 = 0
        for (a, b) in zip(offered, digest) { difference |= a ^ b }
        return difference == 0
    }
}

extension Array where Element == UInt8 {
    fileprivate var trimmingWhitespace: [UInt8] {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(self[first...last])
    }
}
