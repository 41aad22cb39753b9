import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// Room versions 1–5 allow integers up to ±(2^63−1) (e.g. `depth`): a leave carrying them is accepted,
/// forwarded with the numbers exactly as sent, and the room keeps working — the next make_leave's
/// depth is capped at 2^63−1 instead of overflowing. What no signed request can carry (an integer
/// beyond 64 bits) is refused before anything is stored.
struct ForwardingBigIntegerTests {
    static let alice = "@alice:a.test"
    static let alan = "@alan:a.test"

    @Test(arguments: ["5", "1"])
    func aLeaveWithIntegersAt2To63IsAcceptedForwardedOnceAndTheRoomKeepsWorking(version: String) async throws {
        let roomVersion = try #require(RoomVersion(version))
        let fixture = try await ForwardingFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try await fixture.importRoom(leavers: [Self.alice, Self.alan], label: "big-v\(version)", version: roomVersion)
        let requester = fixture.a.requester(destination: ForwardingFixture.serverName, baseURL: worker.baseURL)

        // a.test writes the largest integers the version allows into its member's leave, and signs it.
        let template = try await requester.makeLeave(roomID: room.roomID, userID: Self.alice)
        try #require(template.status == 200)
        var event = try #require(template.json?["event"]?.objectValue)
        event["depth"] = .integer(.max)
        event["content"] = ["membership": "leave", "n": .integer(.max), "m": .integer(.min)]
        let leave = try fixture.a.eventSigner.signLeave(template: event, version: roomVersion, roomID: room.roomID,
                                                        userID: Self.alice)
        let sent = try await requester.sendLeave(roomID: room.roomID, eventID: leave.eventID, pdu: leave.pdu)
        #expect(sent.status == 200, "\(String(decoding: sent.body, as: UTF8.self))")

        // The worker is alive and the next member's make_leave builds on depth 2^63−1 without overflowing.
        let next = try await requester.makeLeave(roomID: room.roomID, userID: Self.alan)
        #expect(next.status == 200, "\(String(decoding: next.body, as: UTF8.self))")
        let nextBody = try #require(next.json)
        #expect(nextBody["event"]?["depth"] == .integer(.max))
        let second = try fixture.a.eventSigner.signLeave(makeLeaveResponse: nextBody, roomID: room.roomID, userID: Self.alan)
        let secondSent = try await requester.sendLeave(roomID: room.roomID, eventID: second.eventID, pdu: second.pdu)
        #expect(secondSent.status == 200, "\(String(decoding: secondSent.body, as: UTF8.self))")

        let both = [leave.eventID: 1, second.eventID: 1]
        let delivered = await waitUntil(timeout: .seconds(10)) {
            [fixture.b, fixture.c].allSatisfy { Set($0.receivedEventCounts(version: roomVersion).keys) == Set(both.keys) }
        }
        #expect(delivered != nil, "b.test: \(fixture.b.receivedEventCounts(version: roomVersion)), c.test: \(fixture.c.receivedEventCounts(version: roomVersion))")
        try await Task.sleep(for: .milliseconds(800))   // time for a duplicate to show up, if one were coming
        #expect(fixture.b.receivedEventCounts(version: roomVersion) == both)
        #expect(fixture.c.receivedEventCounts(version: roomVersion) == both)
        #expect(fixture.a.transactionCount == 0 && fixture.ourselves.transactionCount == 0)
        #expect(try await fixture.backlog() == 0)
        let metrics = try await fixture.metrics(of: worker)
        #expect(metrics.contains("leave_worker_forwarding_deliveries_total 4"), "\(metrics)")
        await worker.stopWithoutBlocking()

        // Received exactly as a.test signed it (numbers included), in a transaction whose X-Matrix
        // signature verified over that exact body, with our signature added.
        for server in [fixture.b, fixture.c] {
            let transaction = try #require(server.receivedTransactions.first {
                $0.pdus.contains { (try? EventHashing.eventID(of: $0, version: roomVersion)) == leave.eventID }
            })
            #expect(transaction.isAuthenticated)
            let pdu = try #require(transaction.pdus.first { (try? EventHashing.eventID(of: $0, version: roomVersion)) == leave.eventID })
            #expect(pdu["depth"] == .integer(.max))
            #expect(pdu["content"]?["n"] == .integer(.max))
            #expect(pdu["content"]?["m"] == .integer(.min))
            #expect(pdu.removing("signatures") == leave.pdu.removing("signatures"))
            #expect(EventHashing.hasValidContentHash(pdu, version: roomVersion))
            #expect(try Self.isSigned(pdu, by: "a.test", key: fixture.a.signingKey, version: roomVersion))
            #expect(try Self.isSigned(pdu, by: ForwardingFixture.serverName, key: fixture.residentKey, version: roomVersion))
        }
        await fixture.shutdown()
    }

    @Test func aLeaveWithAnIntegerBeyond64BitsIsRefusedBeforeAnythingIsStored() async throws {
        let roomVersion = try #require(RoomVersion("5"))
        let fixture = try await ForwardingFixture()
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let room = try await fixture.importRoom(leavers: [Self.alice], label: "beyond64", version: roomVersion)
        let requester = fixture.a.requester(destination: ForwardingFixture.serverName, baseURL: worker.baseURL)

        // Hashed and signed as a server with unbounded integers would; its X-Matrix signature cannot be
        // rebuilt portably, so the worker refuses the body as bad JSON whatever the header says.
        var event = room.leaveTemplate(userID: Self.alice, originServerTS: UnixMilliseconds.now())
        event["content"] = ["membership": "leave", "n": .nonCanonicalNumber("18446744073709551616")]
        let leave = try fixture.a.eventSigner.hashAndSign(event, version: roomVersion)
        let refused = try await requester.request(
            method: "PUT", path: FederationRequester.sendLeavePath(roomID: room.roomID, eventID: leave.eventID, version: .v2),
            body: .raw(leave.pdu.compactBytes(), signedAs: nil))
        #expect(refused.status == 400)
        #expect(refused.errcode == "M_BAD_JSON")
        #expect(try await fixture.backlog() == 0)
        #expect(try await fixture.storedEventCount(leave.eventID) == 0)

        // The member can still leave.
        let eventID = try await fixture.leave(Self.alice, room: room, through: worker)
        #expect(try await fixture.storedEventCount(eventID) == 1)
        await worker.stopWithoutBlocking()
        await fixture.shutdown()
    }

    /// Whether `server`'s signature with `key` verifies over the event's redacted form, encoded as
    /// its room version encodes (v1–v5: integers of any 64-bit size in plain decimal).
    private static func isSigned(_ pdu: JSONObject, by server: String, key: SigningKey, version: RoomVersion) throws -> Bool {
        let bytes = try EventHashing.redactedSigningBytes(of: pdu, version: version)
        let signature = try #require(JSONSigning.signatures(of: pdu, entity: server).first { $0.keyID.utf8.elementsEqual(key.keyID.utf8) })
        return JSONSigning.verify(signature: signature.signature, over: bytes, publicKey: key.publicKey)
    }
}
