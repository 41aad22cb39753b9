import MatrixCore
import MatrixCrypto

/// ``ServerSignatures`` with the keys looked up on the way: the keys at hand first, then — only
/// if none is at hand — the others in order, each look-up (which may cost a fetch) only until one
/// key is had. The decision itself is ``ServerSignatures/verify(_:server:signingBytes:maximum:keys:)``.
public enum ServerSignatureCheck {
    public typealias Failure = ServerSignatures.Failure

    /// Gathers the keys `server`'s signatures need (see ``ServerSignatures/keyIDsToFetch(_:maximum:known:)``).
    /// - Parameters:
    ///   - knownKey: the key for a key ID if memory holds it (no I/O).
    ///   - lookUp: the key for a key ID, fetching if need be.
    nonisolated(nonsending) public static func keys(
        for signatures: JSONObject, maximum: Int,
        knownKey: (_ keyID: String) -> Ed25519PublicKey?,
        lookUp: (_ keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey
    ) async -> ServerSignatures.Keys {
        var gathered = ServerSignatures.Keys()
        for candidate in ServerSignatures.candidates(signatures, maximum: maximum, known: { knownKey($0) != nil })
        where candidate.isKnown {
            gathered.keys[ExactString(candidate.keyID)] = knownKey(candidate.keyID)
        }
        for keyID in ServerSignatures.keyIDsToFetch(signatures, maximum: maximum, known: { gathered.keys[ExactString($0)] != nil }) {
            do {
                gathered.keys[ExactString(keyID)] = try await lookUp(keyID)
                break
            } catch {
                gathered.problems.append(ServerSignatures.KeyProblem(
                    remoteDescription: error.remoteDescription, logDescription: error.description,
                    isUndecided: error.isUndecided))
            }
        }
        return gathered
    }

    /// Gathers the keys and verifies `server`'s entries of `signatures` over `signingBytes`.
    nonisolated(nonsending) public static func verify(
        _ signatures: JSONObject, server: String, signingBytes: [UInt8], maximum: Int,
        knownKey: (_ keyID: String) -> Ed25519PublicKey?,
        lookUp: (_ keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey
    ) async throws(Failure) {
        let keys = await keys(for: signatures, maximum: maximum, knownKey: knownKey, lookUp: lookUp)
        try ServerSignatures.verify(signatures, server: server, signingBytes: signingBytes, maximum: maximum, keys: keys)
    }
}
