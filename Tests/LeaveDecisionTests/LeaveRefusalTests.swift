import LeaveDecision
import MatrixCore
import MatrixCrypto
import WorkerApp
import XCTest

/// Every ``LeaveRefusal`` reached through the real decision (or template builder), with the
/// status and errcode the contract gives it. Built from the accepted vector leave of carol (v10,
/// and v1 for the sender-chosen IDs), altered and re-signed by remote.test where the alteration
/// is covered by the signature.
final class LeaveRefusalTests: XCTestCase {
    var room: VectorRoom!
    var servers: VectorServers!
    var carol: VectorLeaveCase!
    var decision: LeaveDecision!

    override func setUpWithError() throws {
        room = try XCTUnwrap(VectorRoom.all()["10"])
        servers = try VectorServers()
        carol = try XCTUnwrap(VectorLeaveCase.all().first { $0.version == "10" && $0.name == "carol_rejects_invite" })
        decision = LeaveDecision(
            serverName: "resident.test", signingKey: servers.signingKeys["resident.test"], maximumSignaturesPerServer: 4)
    }

    /// The verdict for `body` (default: carol's leave) as the service would reach it.
    func verdict(
        _ body: JSONObject? = nil, roomID: String? = nil, eventID: String? = nil, origin: String = "remote.test",
        snapshot: LeaveSnapshot? = nil, keys: [ExactString: ServerSignatures.Keys]? = nil, decision: LeaveDecision? = nil
    ) -> LeaveVerdict {
        let body = body ?? carol.body
        let eventID = eventID ?? (body == carol.body ? carol.pathEventID : (try? EventHashing.eventID(of: body, version: room.version)) ?? "")
        do throws(LeaveRefusal) {
            let candidate = try LeaveCandidate.parse(
                body, roomID: roomID ?? room.roomID, eventID: eventID, origin: origin, version: room.version)
            let snapshot = snapshot ?? room.snapshot(for: body)
            _ = try (decision ?? self.decision).keysNeeded(candidate, snapshot: snapshot)
            return (decision ?? self.decision).decide(candidate, snapshot: snapshot, keys: keys ?? servers.publicKeys)
        } catch {
            return .refused(error)
        }
    }

    /// Asserts `verdict` refuses as `matches` says, answered with `status` and `errcode`.
    func assertRefused(
        _ verdict: LeaveVerdict, _ status: Int, _ errcode: String, file: StaticString = #filePath, line: UInt = #line,
        _ matches: (LeaveRefusal) -> Bool
    ) {
        guard case .refused(let refusal) = verdict else { return XCTFail("not refused: \(verdict)", file: file, line: line) }
        XCTAssertTrue(matches(refusal), "\(refusal)", file: file, line: line)
        let error = MatrixError(refusal)
        XCTAssertEqual(error.status, status, file: file, line: line)
        XCTAssertEqual(error.errcode, errcode, file: file, line: line)
        XCTAssertEqual(error.message, refusal.description, file: file, line: line)
    }

    /// `body` altered by `change`, with a fresh content hash and remote.test's signature only.
    func resigned(_ change: (inout JSONObject) -> Void) throws -> JSONObject {
        var body = carol.body
        change(&body)
        body["signatures"] = nil
        body["hashes"] = ["sha256": .string(Base64.encodeUnpadded(try EventHashing.contentHash(of: body, version: room.version)))]
        let key = try XCTUnwrap(servers.signingKeys["remote.test"])
        let bytes = try EventHashing.redactedSigningBytes(of: body, version: room.version)
        return JSONSigning.signEvent(body, signingBytes: bytes, entity: "remote.test", key: key)
    }

    func testTheUnalteredLeaveIsStored() {
        guard case .store(_, let prior) = verdict() else { return XCTFail() }
        let invite = room.snapshot(for: carol.body).state.events[.member("@carol:remote.test")]
        XCTAssertEqual(prior.value, Membership.invite)
        XCTAssertEqual(prior.eventID, invite?.eventID)
        XCTAssertNotNil(prior.eventID)
    }

    func testRoomIDMismatch() {
        assertRefused(verdict(roomID: "!other:resident.test"), 400, "M_BAD_JSON") { $0 == .roomIDMismatch }
    }

    func testMalformed() {
        var body = carol.body
        body["depth"] = "12"
        assertRefused(verdict(body, eventID: carol.pathEventID), 400, "M_BAD_JSON") { if case .malformed = $0 { true } else { false } }
    }

    func testMalformedBySizeIsTooLarge() {
        var body = carol.body
        body["content"] = ["membership": "leave", "reason": .string(String(repeating: "x", count: PDU.maxBytes))]
        assertRefused(verdict(body, eventID: carol.pathEventID), 413, "M_TOO_LARGE") { if case .malformed(.tooLarge) = $0 { true } else { false } }
    }

    /// carol's leave re-signed with a `reason` that makes it exactly `size` bytes as the limit counts them.
    func resigned(countedBytes size: Int) throws -> JSONObject {
        var padding = 60_000
        for _ in 0..<3 {
            let body = try resigned { $0["content"] = ["membership": "leave", "reason": .string(String(repeating: "x", count: padding))] }
            let length = PDU.countedBytes(of: body)
            if length == size { return body }
            padding += size - length
        }
        return try XCTUnwrap(nil, "could not pad the leave to \(size) bytes")
    }

    func testALeaveOfTheLimitIsTooLargeOnceCountersigned() throws {
        let body = try resigned(countedBytes: PDU.maxBytes)
        assertRefused(verdict(body), 413, "M_TOO_LARGE") { if case .tooLargeWhenCountersigned(let bytes) = $0 { bytes > PDU.maxBytes } else { false } }
    }

    func testALeaveWithRoomForOurSignatureIsStoredWithinTheLimit() throws {
        let body = try resigned(countedBytes: PDU.maxBytes - 300)
        guard case .store(let leave, _) = verdict(body) else { return XCTFail("not stored: \(verdict(body))") }
        XCTAssertLessThanOrEqual(PDU.countedBytes(of: leave.json), PDU.maxBytes)
        XCTAssertNoThrow(try PDU(json: leave.json, roomVersion: room.version))
    }

    /// Synapse counts a PDU with its `unsigned` member (`{}` at least), which the stored and
    /// forwarded leave does not carry: a leave is stored only if it fits with it.
    func testALeaveMustFitTheLimitWithTheUnsignedMemberSynapseCounts() throws {
        guard case .store(let probe, _) = verdict(try resigned(countedBytes: 60_000)) else { return XCTFail("probe not stored") }
        let ourSignature = PDU.countedBytes(of: probe.json) - 60_000
        let largest = PDU.maxBytes - PDU.emptyUnsignedBytes - ourSignature
        guard case .store(let leave, _) = verdict(try resigned(countedBytes: largest)) else { return XCTFail("not stored") }
        XCTAssertEqual(PDU.countedBytes(of: leave.json) + PDU.emptyUnsignedBytes, PDU.maxBytes)
        var withUnsigned = leave.json
        withUnsigned["unsigned"] = .object([:])
        XCTAssertEqual(try withUnsigned.canonicalBytes().count, PDU.maxBytes)
        assertRefused(verdict(try resigned(countedBytes: largest + 1)), 413, "M_TOO_LARGE") {
            if case .tooLargeWhenCountersigned(let bytes) = $0 { bytes == PDU.maxBytes + 1 } else { false }
        }
    }

    /// Signatures the sender put under our name are not ours: only our own stands there.
    func testOnlyOurSignatureStandsUnderOurName() throws {
        var body = carol.body
        var signatures = try XCTUnwrap(body["signatures"]?.objectValue)
        signatures["resident.test"] = ["ed25519:old": "bm90IG91cnM", "ed25519:zzz": "bm90IG91cnMgZWl0aGVy"]
        body["signatures"] = .object(signatures)
        guard case .store(let leave, _) = verdict(body, eventID: carol.pathEventID) else { return XCTFail("not stored") }
        let ours = JSONSigning.signatures(of: leave.json, entity: "resident.test")
        XCTAssertEqual(ours.map(\.keyID), [try XCTUnwrap(servers.signingKeys["resident.test"]).keyID])
        XCTAssertEqual(JSONSigning.signatures(of: leave.json, entity: "remote.test").count,
                       JSONSigning.signatures(of: carol.body, entity: "remote.test").count)
    }

    /// v8+: a leave naming an authorising user passes when that user's server is one whose signature
    /// the decision verified — the sender's — and is refused for any other (its signature unknown).
    func testAnAuthorisingUserOfTheSendersServerIsAccepted() throws {
        let own = try resigned {
            $0["content"] = ["membership": "leave", "join_authorised_via_users_server": "@admin:remote.test"]
        }
        guard case .store = verdict(own) else { return XCTFail("not stored: \(verdict(own))") }
        let other = try resigned {
            $0["content"] = ["membership": "leave", "join_authorised_via_users_server": "@admin:other.test"]
        }
        assertRefused(verdict(other), 403, "M_FORBIDDEN") { if case .refusedByAuthEvents = $0 { true } else { false } }
    }

    func testNoPrevEvents() throws {
        let body = try resigned { $0["prev_events"] = [] }
        assertRefused(verdict(body), 403, "M_FORBIDDEN") { $0 == .noPrevEvents }
    }

    func testEventIDMismatch() {
        assertRefused(verdict(eventID: "$other"), 400, "M_BAD_JSON") { if case .eventIDMismatch = $0 { true } else { false } }
    }

    func testNotAMemberStateEvent() throws {
        let body = try resigned { $0["type"] = "m.room.message" }
        assertRefused(verdict(body), 400, "M_BAD_JSON") { $0 == .notAMemberStateEvent }
    }

    func testNotALeave() throws {
        let body = try resigned { $0["content"] = ["membership": "join"] }
        assertRefused(verdict(body), 400, "M_BAD_JSON") { $0 == .notALeave }
    }

    func testStateKeyNotSender() throws {
        let body = try resigned { $0["state_key"] = "@bob:remote.test" }
        assertRefused(verdict(body), 400, "M_BAD_JSON") { $0 == .stateKeyNotSender }
    }

    func testSenderNotOnOrigin() {
        assertRefused(verdict(origin: "evil.test"), 403, "M_FORBIDDEN") { if case .senderNotOnOrigin = $0 { true } else { false } }
    }

    func testBannedByServerACL() throws {
        let template = try XCTUnwrap(room.finalState[.create]).pdu.json
        var acl = template
        acl["type"] = "m.room.server_acl"
        acl["content"] = ["allow": ["*"], "deny": ["remote.test"]]
        let aclEvent = AuthEvent(eventID: "$acl", pdu: try PDU(json: acl, roomVersion: room.version))
        let snapshot = room.snapshot(for: carol.body)
        let banned = LeaveSnapshot(
            version: room.version, state: Array(snapshot.state.events.values) + [aclEvent], authEvents: snapshot.authEvents,
            streamPositions: snapshot.streamPositions, alreadyStored: false)
        assertRefused(verdict(snapshot: banned), 403, "M_FORBIDDEN") { $0 == .bannedByServerACL(origin: "remote.test") }
    }

    func testBadSignature() {
        var body = carol.body
        body["signatures"] = ["remote.test": ["ed25519:x": "not base64!"]]
        assertRefused(verdict(body), 403, "M_FORBIDDEN") { if case .badSignature = $0 { true } else { false } }
        assertRefused(verdict(keys: [:]), 403, "M_FORBIDDEN") { if case .badSignature = $0 { true } else { false } }
    }

    func testSignaturesUndecidedWhenTheKeysCouldNotBeFetched() {
        let problem = ServerSignatures.KeyProblem(
            remoteDescription: "Could not fetch the signing keys of origin remote.test", logDescription: "connect to 10.0.0.7 refused",
            isUndecided: true)
        let keys: [ExactString: ServerSignatures.Keys] = ["remote.test": ServerSignatures.Keys(problems: [problem])]
        assertRefused(verdict(keys: keys), 503, "M_UNKNOWN") { if case .signaturesUndecided = $0 { true } else { false } }
        guard case .refused(let refusal) = verdict(keys: keys) else { return XCTFail() }
        XCTAssertEqual(MatrixError(refusal).retryAfterMilliseconds, 5000)
        XCTAssertEqual(MatrixError(refusal).logDetail, "connect to 10.0.0.7 refused")
        XCTAssertFalse(MatrixError(refusal).message.contains("10.0.0.7"))
    }

    func testAuthEventNotInRoom() {
        let full = room.snapshot(for: carol.body)
        let firstAuth = carol.body["auth_events"]?.arrayValue?.first?.stringValue ?? ""
        let partial = LeaveSnapshot(
            version: room.version, state: Array(full.state.events.values),
            authEvents: full.authEvents.filter { !$0.eventID.bytesEqual(firstAuth) },
            streamPositions: full.streamPositions.filter { !$0.key.text.bytesEqual(firstAuth) }, alreadyStored: false)
        assertRefused(verdict(snapshot: partial), 403, "M_FORBIDDEN") { $0 == .authEventNotInRoom(firstAuth) }
    }

    func testRefusedByAuthEvents() throws {
        let cited = try XCTUnwrap(VectorLeaveCase.all().first { $0.version == "10" && $0.name == "join_rules_cited_in_leave_auth_events" })
        assertRefused(verdict(cited.body, eventID: cited.pathEventID), 403, "M_FORBIDDEN") {
            if case .refusedByAuthEvents = $0 { true } else { false }
        }
    }

    func testPrevEventNotInRoom() {
        let full = room.snapshot(for: carol.body)
        let prev = carol.body["prev_events"]?.arrayValue?.first?.stringValue ?? ""
        let partial = LeaveSnapshot(
            version: room.version, state: Array(full.state.events.values),
            authEvents: full.authEvents, streamPositions: full.streamPositions.filter { !$0.key.text.bytesEqual(prev) },
            alreadyStored: false)
        assertRefused(verdict(snapshot: partial), 403, "M_FORBIDDEN") { $0 == .prevEventNotInRoom(prev) }
    }

    func testRefusedByCurrentState() {
        let full = room.snapshot(for: carol.body)
        let withoutCarol = LeaveSnapshot(
            version: room.version, state: full.state.events.filter { $0.key != .member("@carol:remote.test") }.map(\.value),
            authEvents: full.authEvents, streamPositions: full.streamPositions, alreadyStored: false)
        assertRefused(verdict(snapshot: withoutCarol), 403, "M_FORBIDDEN") {
            $0 == .refusedByCurrentState(.cannotLeave(currentMembership: nil))
        }
    }

    /// The leave cites carol's invite, but her membership is now recorded by another event (of
    /// the same value: the invite withdrawn and made again): built on a membership that is not the
    /// current one, it is refused, though both the cited and the current event admit it.
    func testALeaveCitingAnEarlierMemberEventIsRefused() {
        let full = room.snapshot(for: carol.body)
        guard let invite = full.state.events[.member("@carol:remote.test")] else { return XCTFail("no invite") }
        let again = AuthEvent(eventID: "$invited-again", pdu: invite.pdu)
        let reinvited = LeaveSnapshot(
            version: room.version, state: full.state.events.filter { $0.key != .member("@carol:remote.test") }.map(\.value) + [again],
            authEvents: full.authEvents, streamPositions: full.streamPositions, alreadyStored: false)
        assertRefused(verdict(snapshot: reinvited), 403, "M_FORBIDDEN") { $0 == .staleMembershipCited(current: "$invited-again") }
    }

    /// The state before a leave is resolved from its prev events; with all of them stored before
    /// the sender's current member event (here the create event, before carol's invite), that
    /// state does not hold the membership the leave was judged against, and other servers would
    /// reject it: refused, not stored as a fork of the room (found by review, 2026-12-06: stored
    /// before). One prev event at or after the member event suffices.
    func testALeaveWhosePrevEventsAllPrecedeTheMembershipIsRefused() throws {
        let create = try XCTUnwrap(room.finalState[.create]).eventID
        let invite = try XCTUnwrap(room.finalState[.member("@carol:remote.test")]).eventID
        let onTheCreate = try resigned { $0["prev_events"] = [.string(create)] }
        assertRefused(verdict(onTheCreate), 403, "M_FORBIDDEN") { $0 == .prevEventsPrecedeMembership(current: invite) }

        let onTheInvite = try resigned { $0["prev_events"] = [.string(invite)] }
        guard case .store = verdict(onTheInvite) else { return XCTFail("refused a leave built on the member event itself") }
        let onBoth = try resigned { $0["prev_events"] = [.string(create), .string(invite)] }
        guard case .store = verdict(onBoth) else { return XCTFail("refused a leave with one prev event after the membership") }
    }

    func testNoSigningKey() {
        let importOnly = LeaveDecision(serverName: "resident.test", signingKey: nil, maximumSignaturesPerServer: 4)
        assertRefused(verdict(decision: importOnly), 503, "M_UNKNOWN") { $0 == .noSigningKey }
    }

    /// Decided by the write (the membership changed under the room lock); its answer is fixed here.
    func testMembershipChangedIsForbidden() {
        let refusal = LeaveRefusal.membershipChanged(sender: "@carol:remote.test", current: "leave")
        XCTAssertEqual(MatrixError(refusal).status, 403)
        XCTAssertEqual(MatrixError(refusal).errcode, "M_FORBIDDEN")
        XCTAssertEqual(refusal.description, "Membership of @carol:remote.test changed to leave meanwhile; leave refused")
    }
}
