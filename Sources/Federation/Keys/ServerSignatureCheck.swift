import MatrixCore
import MatrixCrypto

/// Checks one server's signatures on an event, looking at no more than the rules need: of its
/// `ed25519:` signatures at most `maximum`, those whose key is already at hand first. Every one of
/// those with a key at hand must verify (a known key whose signature does not verify refuses, as
/// Synapse does); if none did, the others are looked up in order — each look-up may cost a fetch —
/// until one verifies. One valid signature suffices.
public enum ServerSignatureCheck {
    /// Why the server's signatures are not acceptable.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// For the remote server, in its terms.
        public let description: String
        /// For the log: why keys could not be had (connection errors, addresses).
        public let logDetail: String?
        /// No signature could be checked only because the server's keys could not be fetched
        /// (unreachable, timed out, overloaded): nothing was decided.
        public let isUndecided: Bool

        public init(description: String, logDetail: String? = nil, isUndecided: Bool = false) {
            self.description = description
            self.logDetail = logDetail
            self.isUndecided = isUndecided
        }
    }

    /// One signature to consider, with its key if it was at hand.
    struct Candidate {
        let keyID: String
        let value: JSONValue
        let knownKey: Ed25519PublicKey?
    }

    /// Verifies `server`'s entries of `signatures` (the event's `signatures[server]`) over `signingBytes`.
    /// - Parameters:
    ///   - knownKey: the key for a key ID if memory holds it (no I/O).
    ///   - lookUp: the key for a key ID, fetching if need be.
    nonisolated(nonsending) public static func verify(
        _ signatures: JSONObject, server: String, signingBytes: [UInt8], maximum: Int,
        knownKey: (_ keyID: String) -> Ed25519PublicKey?,
        lookUp: (_ keyID: String) async throws(KeyFetchError) -> Ed25519PublicKey
    ) async throws(Failure) {
        var verified = false
        var keyProblems: [KeyFetchError] = []
        for candidate in candidates(signatures, maximum: maximum, knownKey: knownKey) {
            guard let text = candidate.value.stringValue, let signature = Base64.decode(text) else {
                throw Failure(description: "signature \(candidate.keyID) of \(server) is not base64", logDetail: nil)
            }
            let key: Ed25519PublicKey
            if let known = candidate.knownKey {
                key = known
            } else {
                if verified { break }   // the keys at hand came first, and one of them verified
                do {
                    key = try await lookUp(candidate.keyID)
                } catch {
                    keyProblems.append(error)
                    continue
                }
            }
            guard key.isValidSignature(signature, for: signingBytes) else {
                throw Failure(description: "signature \(candidate.keyID) of \(server) does not verify", logDetail: nil)
            }
            verified = true
        }
        guard !verified else { return }
        var reasons: [String] = []
        for problem in keyProblems where !reasons.contains(problem.remoteDescription) {
            reasons.append(problem.remoteDescription)
        }
        let why = reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"
        throw Failure(
            description: "no verifiable signature of \(server) with a known key\(why)",
            logDetail: keyProblems.isEmpty ? nil : keyProblems.map(\.description).joined(separator: "; "),
            isUndecided: !keyProblems.isEmpty && keyProblems.allSatisfy(\.isUndecided))
    }

    /// The `ed25519:` signatures to consider: those with a key at hand first, at most `maximum`.
    static func candidates(
        _ signatures: JSONObject, maximum: Int, knownKey: (String) -> Ed25519PublicKey?
    ) -> [Candidate] {
        let maximum = max(1, maximum)
        var known: [Candidate] = []
        var unknown: [Candidate] = []
        for member in signatures.members where SigningKey.isEd25519KeyID(member.key) {
            if known.count < maximum, let key = knownKey(member.key) {
                known.append(Candidate(keyID: member.key, value: member.value, knownKey: key))
            } else if known.count + unknown.count < maximum {
                unknown.append(Candidate(keyID: member.key, value: member.value, knownKey: nil))
            }
        }
        return Array((known + unknown).prefix(maximum))
    }
}
