import MatrixCore
import MatrixCrypto

/// Whether a `send_leave` is accepted, as a pure function of the request, what storage returned
/// and the keys fetched — no I/O. The service runs it as: ``LeaveCandidate/parse(_:roomID:eventID:origin:version:)``,
/// read the ``LeaveSnapshot``, ``keysNeeded(_:snapshot:)`` (refuses early, before any key is
/// fetched), fetch those keys, ``decide(_:snapshot:keys:)``, write.
///
/// State before the event: this worker changes room state only by self-leaves, and a self-leave's
/// authorization reads only the create event and the sender's own membership, so the rules are
/// evaluated against the room's *current* state: the leave must cite the sender's current member
/// event among its auth events, and the write re-checks under the room lock that it is still the
/// current one (``PriorMembership``).
public struct LeaveDecision: Sendable {
    /// Our server name: the countersignature's entity.
    public let serverName: String
    /// Our current signing key; `nil` only in import-only runtimes (every leave is then refused).
    public let signingKey: SigningKey?
    /// How many signatures of one server are considered.
    public let maximumSignaturesPerServer: Int

    public init(serverName: String, signingKey: SigningKey?, maximumSignaturesPerServer: Int) {
        self.serverName = serverName
        self.signingKey = signingKey
        self.maximumSignaturesPerServer = max(1, maximumSignaturesPerServer)
    }

    /// The servers whose keys ``decide(_:snapshot:keys:)`` needs, each with the signatures to
    /// check (key IDs to fetch: ``ServerSignatures/keyIDsToFetch(_:maximum:known:)``); refuses
    /// first what needs no keys (the server ACL), so a banned server costs no fetch.
    public func keysNeeded(_ candidate: LeaveCandidate, snapshot: LeaveSnapshot) throws(LeaveRefusal)
        -> [(server: String, signatures: JSONObject)]
    {
        guard snapshot.state.aclAllows(candidate.origin) else { throw .bannedByServerACL(origin: candidate.origin) }
        return candidate.requiredServers.compactMap { server in candidate.signatures(of: server).map { (server, $0) } }
    }

    /// The verdict: server ACL, signatures, content hash (a mismatch continues with our redacted
    /// copy), auth events, replay, prev events, the current member event cited, auth rules against
    /// current state; then the event
    /// with our signature. `keys` holds, by server, the keys gathered for ``keysNeeded(_:snapshot:)``.
    public func decide(_ candidate: LeaveCandidate, snapshot: LeaveSnapshot, keys: [ExactString: ServerSignatures.Keys])
        -> LeaveVerdict
    {
        do throws(LeaveRefusal) {
            guard snapshot.state.aclAllows(candidate.origin) else { throw .bannedByServerACL(origin: candidate.origin) }
            try checkSignatures(candidate, keys: keys)
            let accepted = try Self.redactedIfHashMismatch(candidate.event)
            let verified = VerifiedServers(candidate.requiredServers)
            try Self.checkAuthEvents(accepted, snapshot: snapshot, signatures: verified)
            if snapshot.alreadyStored { return .alreadyStored }   // a replay: same checks passed, nothing to write
            // With no prev events the state before the leave is empty: no rule admits it (spec check 5).
            guard !accepted.prevEventIDs.isEmpty else { throw .noPrevEvents }
            if let unknown = accepted.prevEventIDs.first(where: { snapshot.streamPositions[ExactString($0)] == nil }) {
                throw .prevEventNotInRoom(unknown)
            }
            let memberEvent = snapshot.state.events[.member(accepted.sender)]
            // The leave must build on the member's membership as it stands: citing an earlier member
            // event (a join before a kick and a rejoin) its auth events would admit a leave the
            // current state was never asked about as its own parent, and the homeserver's next
            // event for the member, built on the current one, would conflict with it.
            if let memberEvent, !accepted.authEventIDs.contains(where: { $0.bytesEqual(memberEvent.eventID) }) {
                throw .staleMembershipCited(current: memberEvent.eventID)
            }
            // The spec judges a leave on the state before it, resolved from its prev events; this
            // worker keeps the current state only, and may judge on it only when the state before
            // can hold the member event judged against (leave-handshake §2.5: conservatively, or
            // 403): some prev event must be that event or stored after it. Prev events all stored
            // before it (the create event; a moment the sender had left or was banned) have states
            // without it, which other servers judge the leave on — and a fork stored off them
            // would become an extremity of ours. (Not an ancestry walk: a prev event stored later
            // on a branch that forked before the member event passes; only the homeserver's pushes
            // store such branches.)
            if let memberEvent, let memberPosition = snapshot.streamPositions[ExactString(memberEvent.eventID)],
                !accepted.prevEventIDs.contains(where: { (snapshot.streamPositions[ExactString($0)] ?? .min) >= memberPosition })
            {
                throw .prevEventsPrecedeMembership(current: memberEvent.eventID)
            }
            let expected = PriorMembership(memberEvent)
            do {
                try AuthRules.check(accepted, against: snapshot.state.events, signatures: verified)
            } catch {
                throw .refusedByCurrentState(error)
            }
            guard let signingKey else { throw .noSigningKey }
            // The redacted copy has the same redacted form, so the same signing bytes.
            let json = JSONSigning.signEvent(
                accepted.json.removing("unsigned"), signingBytes: candidate.signingBytes, entity: serverName, key: signingKey)
            // The limit counts every signature: a leave that fits alone may not with ours, and
            // stored or forwarded over it, other servers would refuse it and ours could not read it back.
            // It is forwarded without `unsigned`, which Synapse counts all the same (`{}`).
            let size = PDU.countedBytes(of: json) + PDU.emptyUnsignedBytes
            guard size <= PDU.maxBytes else { throw .tooLargeWhenCountersigned(bytes: size) }
            return .store(SignedLeave(eventID: candidate.eventID, event: accepted, json: json), expectedPrior: expected)
        } catch {
            return .refused(error)
        }
    }

    /// Every required server's signatures verify with the keys gathered (none at all: refused;
    /// keys that could not be fetched: undecided).
    private func checkSignatures(_ candidate: LeaveCandidate, keys: [ExactString: ServerSignatures.Keys]) throws(LeaveRefusal) {
        for server in candidate.requiredServers {
            do throws(ServerSignatures.Failure) {
                guard let signatures = candidate.signatures(of: server) else {
                    throw ServerSignatures.Failure(description: "event is not signed by \(server)")
                }
                try ServerSignatures.verify(
                    signatures, server: server, signingBytes: candidate.signingBytes, maximum: maximumSignaturesPerServer,
                    keys: keys[ExactString(server)] ?? ServerSignatures.Keys())
            } catch {
                // Keys that could not be fetched decide nothing (503, as for the request's own key).
                throw error.isUndecided ? .signaturesUndecided(error) : .badSignature(error)
            }
        }
    }

    /// The spec's rule for a content-hash mismatch: continue with our redacted copy (a subset of
    /// a valid PDU keeping every required member, so valid itself; answered as malformed if not).
    static func redactedIfHashMismatch(_ event: PDU) throws(LeaveRefusal) -> PDU {
        do {
            return try EventHashing.redactedIfContentHashMismatch(event)
        } catch {
            throw .malformed(error)
        }
    }

    /// The cited auth events must be events of this room, of the kinds a leave may cite, and allow
    /// it. (Storage selected them by byte equality; the IDs are matched here byte for byte again.)
    static func checkAuthEvents(_ event: PDU, snapshot: LeaveSnapshot, signatures: some AuthSignatureVerifier) throws(LeaveRefusal) {
        var authEvents: [ExactString: AuthEvent] = [:]
        for id in event.authEventIDs {
            guard let cited = snapshot.authEvents.first(where: { $0.eventID.bytesEqual(id) }) else { throw .authEventNotInRoom(id) }
            authEvents[ExactString(id)] = cited
        }
        if event.roomVersion.roomIDFromCreateEvent, let create = snapshot.state.events[.create] {
            authEvents[ExactString(create.eventID)] = create
        }
        do {
            try AuthRules.check(event, authEvents: authEvents, signatures: signatures)
        } catch {
            throw .refusedByAuthEvents(error)
        }
    }
}

/// The auth rules' signature questions about the leave, answered from what the decision verified
/// before running them: the required servers signed it (the v8+ `join_authorised_via_users_server`
/// rule passes when the key names a user of one of them — of the sender's own server, in practice).
/// Any other server's signature is not known here, so it counts as missing (refused), as does a
/// third-party invite's (a leave never needs one).
private struct VerifiedServers: AuthSignatureVerifier {
    let servers: Set<ExactString>

    init(_ servers: [String]) {
        self.servers = Set(servers.map { ExactString($0) })
    }

    func isEvent(_ event: PDU, signedBy server: String) -> Bool {
        servers.contains(ExactString(server))
    }

    func isThirdPartyInviteSigned(_ signed: JSONObject, publicKeys: [String]) -> Bool {
        false
    }
}
