import MatrixCore

/// Signing and verifying federation requests (X-Matrix): the sender signs
/// `{method, uri, origin, destination[, content]}` as JSON under its server name.
public enum XMatrixRequest {
    /// How many `Authorization` headers of one request are tried, by default.
    public static let defaultMaximumAuthorizations = 4

    /// The bytes an X-Matrix signature covers: canonical JSON of `{method, uri, origin, destination}`
    /// plus `content` when the request has a JSON body (`nil` or JSON `null` = no `content` member, as
    /// Synapse does). `uri` is the request target exactly as on the request line (path as sent, plus `?query`).
    ///
    /// Integers of any 64-bit size are written as plain decimals, which is what Synapse
    /// (`canonicaljson`) and gomatrixserverlib sign, so old-room bodies with integers beyond 2^53
    /// (depth may reach 2^63−1 in room versions 1–5) still verify. A float or an integer beyond 64 bits
    /// anywhere in `content` throws: its signed text cannot be rebuilt portably.
    public static func signingBytes(method: String, uri: String, origin: String, destination: String,
                                    content: JSONValue?) throws(CanonicalJSONError) -> [UInt8] {
        var request: JSONObject = [
            "method": .string(method), "uri": .string(uri),
            "origin": .string(origin), "destination": .string(destination),
        ]
        if let content, content != .null {
            if let number = content.firstNonInt64Number { throw .nonCanonicalNumber(number) }
            request["content"] = content
        }
        // Only integers remain, all written in decimal: the canonical layout with 64-bit integers.
        return request.compactBytes()
    }

    /// ``signingBytes(method:uri:origin:destination:content:)`` of a JSON object body already
    /// written in that layout — `encodedContent` is `compactBytes()` of an object in which
    /// every number is a 64-bit integer (no `firstNonInt64Number`), the caller vouches — without
    /// parsing or writing the body again: `content` is the first key of the signed object.
    public static func signingBytes(method: String, uri: String, origin: String, destination: String,
                                    encodedContent content: [UInt8]) -> [UInt8] {
        let request: JSONObject = [
            "method": .string(method), "uri": .string(uri),
            "origin": .string(origin), "destination": .string(destination),
        ]
        let members = request.compactBytes()   // {"destination":…,"method":…,"origin":…,"uri":…}
        var bytes: [UInt8] = []
        bytes.reserveCapacity(content.count + members.count + 12)
        bytes.append(contentsOf: #"{"content":"#.utf8)
        bytes.append(contentsOf: content)
        bytes.append(UInt8(ascii: ","))
        bytes.append(contentsOf: members.dropFirst())
        return bytes
    }

    /// The parsed `Authorization` credentials for an outgoing request signed with `key`.
    public static func authorization(method: String, uri: String, origin: String, destination: String,
                                     content: JSONValue?, key: SigningKey) throws(CanonicalJSONError) -> XMatrixAuthorization {
        let bytes = try signingBytes(method: method, uri: uri, origin: origin, destination: destination, content: content)
        return authorization(origin: origin, destination: destination, signingBytes: bytes, key: key)
    }

    /// The `Authorization` credentials of a request whose signed bytes are `signingBytes`.
    public static func authorization(origin: String, destination: String, signingBytes bytes: [UInt8],
                                     key: SigningKey) -> XMatrixAuthorization {
        XMatrixAuthorization(origin: origin, destination: destination, keyID: key.keyID,
                             signature: Base64.encodeUnpadded(key.privateKey.signature(for: bytes)))
    }

    /// The `Authorization` header value for an outgoing request signed with `key`.
    public static func authorizationHeader(method: String, uri: String, origin: String, destination: String,
                                           content: JSONValue?, key: SigningKey) throws(CanonicalJSONError) -> String {
        try authorization(method: method, uri: uri, origin: origin, destination: destination,
                          content: content, key: key).headerValue
    }

    /// Whether `authorization`'s signature verifies over `signingBytes` with `publicKey`.
    public static func verify(signingBytes: [UInt8], authorization: XMatrixAuthorization,
                              publicKey: Ed25519PublicKey) -> Bool {
        JSONSigning.verify(signature: authorization.signature, over: signingBytes, publicKey: publicKey)
    }

    /// Authenticates a received request; returns its origin.
    ///
    /// Parses every `Authorization` value (``XMatrixAuthorization/parseAll(headerValues:serverName:)``),
    /// rebuilds the signed bytes with `destination` = `serverName`, and asks `publicKey` for each
    /// header's key (only `ed25519:` key IDs; `nil` = no usable key) — for the first
    /// `maximumAuthorizations` headers only, so a request cannot make a key look-up per header it
    /// carries. Any one verifying signature suffices. Throws ``XMatrixError`` — ``XMatrixError/badSignature(origin:keyID:)`` if a key was
    /// found but no signature verified, else ``XMatrixError/unknownKey(origin:keyID:)`` — or whatever
    /// `publicKey` throws (e.g. a key fetch timing out).
    /// Runs on the caller's actor (`nonisolated(nonsending)`), so `publicKey` need not be `Sendable`.
    nonisolated(nonsending) public static func authenticate<LookupError: Error>(
        method: String, uri: String, serverName: String, content: JSONValue?, authorizationHeaders: [String],
        maximumAuthorizations: Int = defaultMaximumAuthorizations,
        publicKey: (_ origin: String, _ keyID: String) async throws(LookupError) -> Ed25519PublicKey?
    ) async throws -> String {
        let authorizations = try XMatrixAuthorization.parseAll(headerValues: authorizationHeaders, serverName: serverName)
        let origin = authorizations[0].origin
        let bytes: [UInt8]
        do {
            bytes = try signingBytes(method: method, uri: uri, origin: origin, destination: serverName, content: content)
        } catch .nonCanonicalNumber(let number) {
            throw XMatrixError.nonCanonicalBody(number)
        }
        var failure = XMatrixError.unknownKey(origin: origin, keyID: authorizations[0].keyID)
        for authorization in authorizations.prefix(max(1, maximumAuthorizations)) {
            guard SigningKey.isEd25519KeyID(authorization.keyID),
                  let key = try await publicKey(origin, authorization.keyID)
            else { continue }
            if verify(signingBytes: bytes, authorization: authorization, publicKey: key) { return origin }
            failure = .badSignature(origin: origin, keyID: authorization.keyID)
        }
        throw failure
    }
}
