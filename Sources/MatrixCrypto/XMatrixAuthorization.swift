import MatrixCore

/// One `Authorization: X-Matrix origin=…,destination=…,key=…,sig=…` header, parsed.
public struct XMatrixAuthorization: Sendable, Equatable {
    /// The sending server (a valid server name).
    public let origin: String
    /// The server the request is for; absent from older senders.
    public let destination: String?
    /// The key ID the request was signed with, e.g. `ed25519:abc`.
    public let keyID: String
    /// The unpadded-base64 signature.
    public let signature: String

    public init(origin: String, destination: String?, keyID: String, signature: String) {
        self.origin = origin
        self.destination = destination
        self.keyID = keyID
        self.signature = signature
    }

    /// Parses one header value (see ``XMatrixHeaderParser`` for the grammar). Parameter names are
    /// case-insensitive and may come in any order; unknown parameters are ignored; `origin`, `key`
    /// and `sig` are required, and `origin` must be a valid server name. A known parameter given
    /// twice is malformed (there would be no telling which one was signed).
    public static func parse(_ headerValue: String) throws(XMatrixError) -> XMatrixAuthorization {
        var origin: String?
        var destination: String?
        var keyID: String?
        var signature: String?
        for (name, value) in try XMatrixHeaderParser.parameters(headerValue) {
            switch name {
            case "origin": try set(&origin, to: value, name: name)
            case "destination": try set(&destination, to: value, name: name)
            case "key": try set(&keyID, to: value, name: name)
            case "sig": try set(&signature, to: value, name: name)
            default: continue
            }
        }
        guard let origin else { throw .malformed("missing origin") }
        guard let keyID else { throw .malformed("missing key") }
        guard let signature else { throw .malformed("missing sig") }
        guard ServerName(origin) != nil else { throw .malformed("origin is not a valid server name") }
        return XMatrixAuthorization(origin: origin, destination: destination, keyID: keyID, signature: signature)
    }

    private static func set(_ slot: inout String?, to value: String, name: String) throws(XMatrixError) {
        guard slot == nil else { throw .malformed("parameter \(name) given twice") }
        slot = value
    }

    /// All X-Matrix credentials of a request, given every `Authorization` header value it carried.
    /// Headers with another scheme are ignored (none left → ``XMatrixError/missing``); any X-Matrix
    /// header that does not parse is ``XMatrixError/malformed(_:)``; a `destination` other than
    /// `serverName` is ``XMatrixError/wrongDestination(_:)``; headers naming different origins are
    /// malformed. The result is non-empty and shares one origin; any one valid signature suffices.
    public static func parseAll(headerValues: [String], serverName: String) throws(XMatrixError) -> [XMatrixAuthorization] {
        var result: [XMatrixAuthorization] = []
        for value in headerValues where XMatrixHeaderParser.hasScheme(value) {
            let authorization = try parse(value)
            if let destination = authorization.destination, !destination.utf8.elementsEqual(serverName.utf8) {
                throw .wrongDestination(destination)
            }
            if let first = result.first, !first.origin.utf8.elementsEqual(authorization.origin.utf8) {
                throw .malformed("X-Matrix headers name different origins")
            }
            result.append(authorization)
        }
        guard !result.isEmpty else { throw .missing }
        return result
    }

    /// The header value as senders should write it: `X-Matrix ` then `origin`, `destination` (if any),
    /// `key`, `sig`, every value quoted (with `"` and `\` backslash-escaped).
    public var headerValue: String {
        var parts = ["origin=\(Self.quoted(origin))"]
        if let destination { parts.append("destination=\(Self.quoted(destination))") }
        parts.append("key=\(Self.quoted(keyID))")
        parts.append("sig=\(Self.quoted(signature))")
        return "X-Matrix " + parts.joined(separator: ",")
    }

    private static func quoted(_ value: String) -> String {
        var result = "\""
        for character in value.unicodeScalars {
            if character == "\"" || character == "\\" { result.unicodeScalars.append("\\") }
            result.unicodeScalars.append(character)
        }
        result += "\""
        return result
    }
}
