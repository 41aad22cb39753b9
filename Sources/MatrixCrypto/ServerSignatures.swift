import MatrixCore

/// Checks one server's signatures on an event over keys already at hand, looking at no more than
/// the rules need: of its `ed25519:` signatures at most `maximum`, those with a key at hand first.
/// Every one of those with a key must verify (a known key whose signature does not verify refuses,
/// as Synapse does); one valid signature suffices. Pure: fetching the keys is the caller's step
/// (``keyIDsToFetch(_:maximum:known:)`` says which), so the same check serves the leave decision,
/// room import and the key fetcher's lazy form (`ServerSignatureCheck` in Federation).
public enum ServerSignatures {
    /// Why the server's signatures are not acceptable.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
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

    /// A key that could not be had: what the remote server may be told, what the log says, and
    /// whether the failure decides nothing (the key server was unreachable, not wrong).
    public struct KeyProblem: Equatable, Sendable {
        public let remoteDescription: String
        public let logDescription: String
        public let isUndecided: Bool

        public init(remoteDescription: String, logDescription: String, isUndecided: Bool) {
            self.remoteDescription = remoteDescription
            self.logDescription = logDescription
            self.isUndecided = isUndecided
        }
    }

    /// One server's keys gathered for an event: the keys at hand or fetched, by key ID (byte for
    /// byte), and the problems met fetching the others.
    public struct Keys: Sendable {
        public var keys: [ExactString: Ed25519PublicKey]
        public var problems: [KeyProblem]

        public init(keys: [ExactString: Ed25519PublicKey] = [:], problems: [KeyProblem] = []) {
            self.keys = keys
            self.problems = problems
        }
    }

    /// The servers whose signatures `event` needs (events-and-room-versions §5): the sender's
    /// server and, in v1–v2, the server of the `event_id`.
    public static func requiredServers(of event: PDU) -> [String] {
        var servers = [event.senderServer]
        if let explicit = event.explicitEventID, let server = EventID(explicit)?.server, !server.bytesEqual(event.senderServer) {
            servers.append(server)
        }
        return servers
    }

    /// One signature to consider.
    public struct Candidate: Sendable {
        public let keyID: String
        public let value: JSONValue
        public let isKnown: Bool
    }

    /// The `ed25519:` signatures to consider: those with a key at hand first, at most `maximum`.
    public static func candidates(_ signatures: JSONObject, maximum: Int, known: (String) -> Bool) -> [Candidate] {
        let maximum = max(1, maximum)
        var knownOnes: [Candidate] = []
        var unknown: [Candidate] = []
        for member in signatures.members where SigningKey.isEd25519KeyID(member.key) {
            if knownOnes.count < maximum, known(member.key) {
                knownOnes.append(Candidate(keyID: member.key, value: member.value, isKnown: true))
            } else if knownOnes.count + unknown.count < maximum {
                unknown.append(Candidate(keyID: member.key, value: member.value, isKnown: false))
            }
        }
        return Array((knownOnes + unknown).prefix(maximum))
    }

    /// The key IDs worth fetching, in order, each only if the ones before it could not be had:
    /// none when a key is at hand (the keys at hand decide), none for a signature that is not
    /// base64 (no key could make it verify).
    public static func keyIDsToFetch(_ signatures: JSONObject, maximum: Int, known: (String) -> Bool) -> [String] {
        var ids: [String] = []
        for candidate in candidates(signatures, maximum: maximum, known: known) {
            if candidate.isKnown { return [] }
            guard candidate.value.stringValue.flatMap(Base64.decode) != nil else { continue }
            ids.append(candidate.keyID)
        }
        return ids
    }

    /// Verifies `server`'s entries of `signatures` (the event's `signatures[server]`) over
    /// `signingBytes` with `keys`.
    public static func verify(
        _ signatures: JSONObject, server: String, signingBytes: [UInt8], maximum: Int, keys: Keys
    ) throws(Failure) {
        var verified = false
        for candidate in candidates(signatures, maximum: maximum, known: { keys.keys[ExactString($0)] != nil }) {
            // A signature under a key ID without a key is not read at all, as Synapse (which
            // verifies the key IDs it found keys for): garbage there does not undo a valid one.
            guard let key = keys.keys[ExactString(candidate.keyID)] else {
                if verified { break }   // the keys at hand came first, and one of them verified
                continue
            }
            guard let text = candidate.value.stringValue, let signature = Base64.decode(text) else {
                throw Failure(description: "signature \(candidate.keyID) of \(server) is not base64")
            }
            guard key.isValidSignature(signature, for: signingBytes) else {
                throw Failure(description: "signature \(candidate.keyID) of \(server) does not verify")
            }
            verified = true
        }
        guard !verified else { return }
        var reasons: [String] = []
        for problem in keys.problems where !reasons.contains(problem.remoteDescription) {
            reasons.append(problem.remoteDescription)
        }
        let why = reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"
        throw Failure(
            description: "no verifiable signature of \(server) with a known key\(why)",
            logDetail: keys.problems.isEmpty ? nil : keys.problems.map(\.logDescription).joined(separator: "; "),
            isUndecided: !keys.problems.isEmpty && keys.problems.allSatisfy(\.isUndecided))
    }
}
