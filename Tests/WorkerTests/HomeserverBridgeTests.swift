import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// Issue 15, item 4: the fleet beside its homeserver of record (`HomeserverOfRecord`, played),
/// with real worker processes and real Postgres: (a) members added on the homeserver leave through
/// the fleet, (b) accepted leaves reach the homeserver's view through the feed, (c) across a worker
/// restart without gaps, (d) rooms not held are passed through, (e) the token is required.
@Suite(.serialized)
struct HomeserverBridgeTests {
    static let bob = "@bob:remote.test"
    static let carol = "@carol:remote.test"

    @Test func aMemberInvitedAndJoinedOnTheHomeserverLeavesThroughTheFleet() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "record-a")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)

        let remoteSigner = fixture.remote.eventSigner
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "invite"], type: EventType.member, stateKey: Self.carol, sender: room.adminUserID,
                              signer: fixture.resident)
            try record.append(["membership": "join"], type: EventType.member, stateKey: Self.carol, sender: Self.carol,
                              signer: remoteSigner)
        }
        let pushed = try await homeserver.push(room.roomID, to: internalURL)
        #expect(pushed.status == 200, "\(String(describing: pushed.body))")
        #expect(pushed.body?["new_events"]?.integerValue == 2)
        // The same events again: nothing new (a retried push is harmless).
        let record = try #require(await homeserver.rooms[room.roomID])
        let repeated: JSONObject = ["room_version": "10", "events": .array(record.events.suffix(2).map { .object($0.pdu) })]
        let again = try await HomeserverOfRecord.request("PUT", internalURL + "/_leave_worker/v1/rooms/\(HomeserverOfRecord.encode(room.roomID))/events",
                                                         token: token, body: repeated.compactBytes())
        #expect(again.status == 200)
        #expect(again.body?["new_events"]?.integerValue == 0)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "join")

        let leaveID = try await Self.leave(Self.carol, room: room.roomID, fixture: fixture, worker: worker)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave")

        // A re-join made on the homeserver before it applied that leave does not build on it: refused, both named.
        var stale = record
        let unaware = try stale.append(["membership": "join"], type: EventType.member, stateKey: Self.carol, sender: Self.carol,
                                       signer: remoteSigner)
        let refused = try await HomeserverOfRecord.request(
            "PUT", internalURL + "/_leave_worker/v1/rooms/\(HomeserverOfRecord.encode(room.roomID))/events",
            token: token, body: stale.takePush().compactBytes())
        #expect(refused.status == 409)
        let message = refused.body?["error"]?.stringValue ?? ""
        #expect(message.contains(unaware.eventID) && message.contains(leaveID), "\(message)")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave")

        // Once the homeserver applied the feed, a re-join builds on the leave and is accepted.
        #expect(try await homeserver.follow(internalURL, timeoutMS: 5_000) == [leaveID])
        #expect(await homeserver.membership(room.roomID, Self.carol) == "leave")
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "join"], type: EventType.member, stateKey: Self.carol, sender: Self.carol,
                              signer: remoteSigner)
        }
        let rejoined = try await homeserver.push(room.roomID, to: internalURL)
        #expect(rejoined.status == 200, "\(String(describing: rejoined.body))")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "join")
        await fixture.shutdown()
    }

    /// Pushes extend held rooms of every version and carry events the homeserver keeps redacted:
    /// a version 12 room's events cite no create event, which a push therefore did not load (every
    /// push to a v12 room was refused), and a redacted event no longer matches its content hash (it
    /// was refused, and so was every later push citing it). The redacted event is stored redacted.
    @Test(arguments: ["10", "12"])
    func pushesExtendHeldRoomsOfEachVersionAndCarryRedactedEvents(version: String) async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: version, members: [PlannedMember(userID: Self.bob, membership: .join)],
                                         label: "record-v\(version)")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "invite"], type: EventType.member, stateKey: Self.carol, sender: room.adminUserID,
                              signer: fixture.resident)
            try record.append(["membership": "join", "displayname": "Carol"], type: EventType.member, stateKey: Self.carol,
                              sender: Self.carol, signer: fixture.remote.eventSigner)
        }
        // The homeserver has since redacted carol's join: its displayname is gone.
        let record = try #require(await homeserver.rooms[room.roomID])
        var events = record.events.suffix(2).map(\.pdu)
        var content = try #require(events[1]["content"]?.objectValue)
        content["displayname"] = nil
        events[1]["content"] = .object(content)
        let body: JSONObject = ["room_version": .string(version), "events": .array(events.map { .object($0) })]
        let pushed = try await HomeserverOfRecord.request(
            "PUT", internalURL + "/_leave_worker/v1/rooms/\(HomeserverOfRecord.encode(room.roomID))/events",
            token: token, body: body.compactBytes())
        #expect(pushed.status == 200, "\(String(describing: pushed.body))")
        #expect(pushed.body?["new_events"]?.integerValue == 2)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "join")
        _ = try await Self.leave(Self.carol, room: room.roomID, fixture: fixture, worker: worker)
        #expect(try await fixture.members(room.roomID)[Self.carol] == "leave")
        await fixture.shutdown()
    }

    /// A push is checked against the state entries its events' auth checks read, not the room's
    /// whole state (every member event, read and parsed for every pushed message): here bob's
    /// stored member event, which no check of the push needs, is made unreadable — the push still
    /// passes (it failed: "cannot be read back"); its summary counts the room's memberships.
    @Test func aPushReadsOnlyTheStateItsChecksNeed() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(
            version: "10", members: [PlannedMember(userID: Self.bob, membership: .join), PlannedMember(userID: "@dave:remote.test", membership: .join)],
            label: "record-partial")
        try await fixture.importRoom(room)
        // Bob's join is followed by dave's, so the push does not cite it either.
        let bobsJoin = try #require(room.events.last { $0.pdu["state_key"]?.stringValue == Self.bob }).eventID
        try #require(room.events.last?.eventID != bobsJoin)
        try await fixture.pool.withConnection { connection in
            _ = try connection.query("UPDATE events SET pdu = '{}' WHERE event_id = $1", [.text(bobsJoin)])
        }
        let pushed = try await Self.holdAndPushCarolsInvite(
            HomeserverOfRecord(token: token), room: room, internalURL: internalURL, fixture: fixture)
        #expect(pushed.status == 200, "\(String(describing: pushed.body))")
        #expect(pushed.body?["new_events"]?.integerValue == 1)
        #expect(pushed.body?["memberships"]?["join"]?.integerValue == 3)
        #expect(pushed.body?["memberships"]?["invite"]?.integerValue == 1)
        await fixture.shutdown()
    }

    /// The homeserver holds `room`, appends carol's invite by the room's admin (signed by our
    /// server) and pushes it.
    static func holdAndPushCarolsInvite(
        _ homeserver: HomeserverOfRecord, room: BuiltRoom, internalURL: String, fixture: ResidentFixture
    ) async throws -> (status: Int, body: JSONValue?) {
        await homeserver.hold(room)
        let admin = room.adminUserID, signer = fixture.resident
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "invite"], type: EventType.member, stateKey: carol, sender: admin, signer: signer)
        }
        return try await homeserver.push(room.roomID, to: internalURL)
    }

    /// Pushes the homeserver's copy of the room, whose newest event cannot be judged just now:
    /// expects 503 naming that event and `member` not stored; returns the error text.
    static func expectRetryLater(
        _ homeserver: HomeserverOfRecord, roomID: String, internalURL: String, fixture: ResidentFixture, member: String
    ) async throws -> String {
        let appended = try #require(await homeserver.rooms[roomID]?.events.last?.eventID)
        let pushed = try await homeserver.push(roomID, to: internalURL)
        #expect(pushed.status == 503, "\(String(describing: pushed.body))")
        #expect(pushed.body?["errcode"]?.stringValue == "M_UNKNOWN")
        let message = pushed.body?["error"]?.stringValue ?? ""
        #expect(message.contains(appended), "\(message)")
        #expect(try await fixture.members(roomID)[member] == nil)
        return message
    }

    /// An event whose server's signing key cannot be had just now (the server unreachable) says
    /// nothing about the push: 503 with Retry-After, the event named — not a 400, which told the
    /// homeserver the push would never pass. Nothing is stored.
    @Test func aPushWhoseSigningKeyCannotBeHadNowIsAnsweredRetryLater() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)],
                                         label: "record-keys")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)
        let ghost = EventSigner(serverName: "ghost.invalid", key: try SigningKey.generate(version: "g1"))
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "join"], type: EventType.member, stateKey: "@g:ghost.invalid",
                              sender: "@g:ghost.invalid", signer: ghost)
        }
        _ = try await Self.expectRetryLater(homeserver, roomID: room.roomID, internalURL: internalURL, fixture: fixture,
                                            member: "@g:ghost.invalid")
        await fixture.shutdown()
    }

    /// After a key rotation the homeserver signs with its new key and lists the old one as retired.
    /// Events it signed with the old key, given to the worker in `LEAVE_WORKER_OLD_SIGNING_KEYS`,
    /// are imported; an event signed with a key of ours the worker was not given — the homeserver
    /// rotated before the workers were restarted with its new key — is 503 (retry: the push passes
    /// once they have it). Both were 400, the second telling the homeserver it never would.
    @Test func pushesSignedWithOurRetiredKeyPassAndWithAKeyNotGivenAreRetriedLater() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        let rotation = try fixture.rotation(to: try SigningKey.generate(version: "rs2"), retiredAt: 1_900_000_000_000)
        defer { for file in rotation.files + [tokenFile] { try? FileManager.default.removeItem(at: file) } }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile, settings: rotation.settings)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)],
                                         label: "record-rotated")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        let retired = try await Self.holdAndPushCarolsInvite(homeserver, room: room, internalURL: internalURL, fixture: fixture)
        #expect(retired.status == 200, "\(String(describing: retired.body))")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "invite")

        let notGiven = EventSigner(serverName: ResidentFixture.serverName, key: try SigningKey.generate(version: "rs3"))
        let dave = "@dave:remote.test"
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "invite"], type: EventType.member, stateKey: dave, sender: room.adminUserID,
                              signer: notGiven)
        }
        let message = try await Self.expectRetryLater(homeserver, roomID: room.roomID, internalURL: internalURL, fixture: fixture,
                                                      member: dave)
        #expect(!message.contains("LEAVE_WORKER_"), "\(message)")
        // The operator reads in the log which settings lack the key (stopped: its log written out).
        worker.stop()
        let log = worker.outputText()
        #expect(log.contains("ed25519:rs3") && log.contains("LEAVE_WORKER_OLD_SIGNING_KEYS"), "\(log)")
        await fixture.shutdown()
    }

    /// A push's body and its parsed events are held in memory while it is imported, so one
    /// process imports one push at a time and takes at most 8 MiB of body: a second push while one
    /// is under way (here: still sending its body) is answered 503 with Retry-After, and a body
    /// declared over the limit 413 `M_TOO_LARGE` before it is read. (Several 20,000-member
    /// histories of up to 64 MiB at once could take the pod past its memory limit.)
    @Test func aSecondPushWhileOneIsUnderWayIsRefusedAndAnOversizedOneIsTooLarge() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "record-one")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)
        try await homeserver.update(room.roomID) { record in
            try record.append(["membership": "invite"], type: EventType.member, stateKey: Self.carol, sender: room.adminUserID,
                              signer: fixture.resident)
        }
        let path = "/_leave_worker/v1/rooms/\(HomeserverOfRecord.encode(room.roomID))/events"
        let head = { (length: Int) in
            "PUT \(path) HTTP/1.1\r\nHost: internal\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(length)\r\n\r\n"
        }
        var record = try #require(await homeserver.rooms[room.roomID])
        let document = record.takePush().compactBytes()
        let port = try #require(Int(internalURL.split(separator: ":").last ?? ""))

        // The first push sends its head and part of its body, and stalls.
        let stalled = try RawConnection(port: port)
        stalled.send(head(document.count))
        stalled.send(Array(document.prefix(10)))
        var second: (status: Int, body: JSONValue?) = (0, nil)
        for _ in 0..<50 where second.status != 503 {
            try await Task.sleep(for: .milliseconds(100))
            second = try await HomeserverOfRecord.request("PUT", internalURL + path, token: token, body: document)
        }
        #expect(second.status == 503, "\(String(describing: second.body))")
        #expect(second.body?["errcode"]?.stringValue == "M_UNKNOWN")
        #expect(second.body?["retry_after_ms"]?.integerValue != nil)

        // The first push ends its body and is answered; the next push is served.
        stalled.send(Array(document.dropFirst(10)))
        let first = String(decoding: await stalled.read(quiet: .seconds(5)).bytes, as: UTF8.self)
        #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")
        let third = try await HomeserverOfRecord.request("PUT", internalURL + path, token: token, body: document)
        #expect(third.status == 200, "\(String(describing: third.body))")
        #expect(try await fixture.members(room.roomID)[Self.carol] == "invite")

        // Over 8 MiB: 413 on the head alone.
        let oversized = try RawConnection(port: port)
        let refused = await oversized.exchange(head(8 << 20 + 1), quiet: .seconds(5))
        #expect(refused.hasPrefix("HTTP/1.1 413"), "\(refused)")
        #expect(refused.contains("M_TOO_LARGE"))
        await fixture.shutdown()
    }

    /// A feed position the stream has not reached — the homeserver's saved position after the
    /// database was restored to an earlier point, or failed over to a replica that was behind — is
    /// refused 400: answered empty, with `next_from` the same position, the homeserver would wait
    /// there while the stream grew up to it, and never see the leaves accepted below it.
    @Test func aFeedPositionBeyondTheStreamIsRefused() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "record-head")
        try await fixture.importRoom(room)
        _ = try await Self.leave(Self.bob, room: room.roomID, fixture: fixture, worker: worker)
        let streamHead = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT pg_sequence_last_value('event_stream_ordering')").rows.first?.int64(0)
        }
        let head = try #require(streamHead)
        let feed = internalURL + "/_leave_worker/v1/events?timeout_ms=0&from="

        let beyond = try await HomeserverOfRecord.request("GET", feed + String(head + 1000), token: token)
        #expect(beyond.status == 400, "\(String(describing: beyond.body))")
        #expect(beyond.body?["errcode"]?.stringValue == "M_INVALID_PARAM")
        let atHead = try await HomeserverOfRecord.request("GET", feed + String(head), token: token)
        #expect(atHead.status == 200, "\(String(describing: atHead.body))")
        #expect(atHead.body?["events"]?.arrayValue?.isEmpty == true)
        #expect(atHead.body?["next_from"]?.integerValue == head)
        await fixture.shutdown()
    }

    @Test func theFeedDeliversLeavesFromAnyWorkerAndResumesAfterARestart() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (first, firstURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        let (second, _) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { second.stop() }
        let members = PlannedMember.generate(count: 3, membership: .join, servers: ["remote.test"])
        let room = try fixture.buildRoom(version: "10", members: members, label: "record-b")
        try await fixture.importRoom(room)
        let homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)

        // (b) A long-poll on the first worker returns the leave the second one accepts, well within its timeout.
        let poll = Task { try await homeserver.follow(firstURL, timeoutMS: 10_000) }
        let leave1 = try await Self.leave(members[0].userID, room: room.roomID, fixture: fixture, worker: second)
        let accepted = ContinuousClock.now
        let polled = try await poll.value
        let delay = ContinuousClock.now - accepted
        #expect(polled == [leave1])
        #expect(delay < .seconds(1), "the leave reached the homeserver \(delay) after send_leave was answered")
        #expect(await homeserver.membership(room.roomID, members[0].userID) == "leave")

        // (c) The first worker stops; leaves go on through the second; a new worker resumes from the position.
        first.stop()
        let leave2 = try await Self.leave(members[1].userID, room: room.roomID, fixture: fixture, worker: second)
        let leave3 = try await Self.leave(members[2].userID, room: room.roomID, fixture: fixture, worker: second)
        let (restarted, restartedURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { restarted.stop() }
        var resumed: [String] = []
        for _ in 0..<5 where resumed.count < 2 {
            resumed += try await homeserver.follow(restartedURL, timeoutMS: 5_000)
        }
        #expect(resumed == [leave2, leave3])
        #expect(await homeserver.received == [leave1, leave2, leave3])
        for member in members { #expect(await homeserver.membership(room.roomID, member.userID) == "leave") }

        // `leave-worker events follow` prints the same feed as NDJSON.
        let printed = try await WorkerProcess.runWithoutBlocking(["events", "follow", "--from", "0", "--once"],
                                                                 environment: fixture.environment)
        #expect(printed.status == 0, "\(printed.stderr)")
        let lines = printed.stdout.split(separator: "\n").map { try? JSONParser.parse(Array($0.utf8)) }
        #expect(lines.map { $0?["event_id"]?.stringValue } == [leave1, leave2, leave3])
        #expect(lines.allSatisfy { $0?["pdu"]?["signatures"]?[ResidentFixture.serverName] != nil })
        await fixture.shutdown()
    }

    @Test func roomsNotHeldArePassedThroughToTheHomeserverOfRecord() async throws {
        let fixture = try await ResidentFixture()
        let upstream = SimulatedHomeserver(serverName: ResidentFixture.serverName, signingKey: fixture.residentKey)
        let upstreamPort = try await upstream.start()
        let (_, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, _) = try await fixture.startBridgedWorker(tokenFile: tokenFile, passthrough: "http://127.0.0.1:\(upstreamPort)")
        defer { worker.stop() }
        let room = try fixture.buildRoom(version: "10", members: [PlannedMember(userID: Self.bob, membership: .join)], label: "record-d")
        try await fixture.importRoom(room)
        let remote = fixture.requester(worker)
        let notHeld = "!elsewhere:resident.test"

        let made = try await remote.makeLeave(roomID: notHeld, userID: Self.bob)
        #expect(made.status == 200)
        #expect(made.json?["answered_by"]?.stringValue == ResidentFixture.serverName)
        let first = try #require(upstream.receivedLeaveRequests.first)
        #expect(first.method == "GET")
        #expect(first.target == FederationRequester.makeLeavePath(roomID: notHeld, userID: Self.bob))
        #expect(first.authorization.count == 1 && first.authorization[0].hasPrefix("X-Matrix "))

        let pdu: JSONObject = ["type": "m.room.member", "state_key": .string(Self.bob), "content": ["membership": "leave"]]
        let sent = try await remote.sendLeave(roomID: notHeld, eventID: "$passed", pdu: pdu)
        #expect(sent.status == 200)
        let relayed = try #require(upstream.receivedLeaveRequests.last)
        #expect(relayed.method == "PUT")
        #expect(try JSONParser.parse(relayed.body) == .object(pdu))

        // Passed through only once authenticated: an unsigned request never reaches the homeserver.
        let unsigned = try await RawConnection(port: worker.port).exchange(
            "GET \(FederationRequester.makeLeavePath(roomID: notHeld, userID: Self.bob)) HTTP/1.1\r\n"
                + "Host: resident.test\r\nConnection: close\r\n\r\n")
        #expect(unsigned.hasPrefix("HTTP/1.1 401"), "\(unsigned)")
        #expect(upstream.receivedLeaveRequests.count == 2)

        // A held room is the fleet's; other routes are never passed through.
        let held = try await remote.makeLeave(roomID: room.roomID, userID: Self.bob)
        #expect(held.status == 200)
        #expect(held.json?["room_version"]?.stringValue == "10")
        let unknownEvent = try await remote.event(id: "$unknown")
        #expect(unknownEvent.status == 404)
        #expect(upstream.receivedLeaveRequests.count == 2)

        // A request target that is not a path never reaches the pass-through: appended to the
        // homeserver's URL, `*@HOST:PORT/…` would make HOST:PORT its host.
        let elsewhere = try CountingListener()
        defer { elsewhere.stop() }
        let smuggled = try await RawConnection(port: worker.port).exchange(
            "GET *@127.0.0.1:\(elsewhere.port)\(FederationRequester.makeLeavePath(roomID: notHeld, userID: Self.bob)) HTTP/1.1\r\n"
                + "Host: resident.test\r\nConnection: close\r\n\r\n")
        #expect(smuggled.hasPrefix("HTTP/1.1 404"), "\(smuggled)")
        #expect(smuggled.contains("M_UNRECOGNIZED"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(elsewhere.acceptedConnections == 0)
        #expect(upstream.receivedLeaveRequests.count == 2)

        // The homeserver unreachable: 502 with a Matrix error, no address in it.
        await upstream.stop()
        let down = try await remote.makeLeave(roomID: notHeld, userID: Self.bob)
        #expect(down.status == 502)
        #expect(down.errcode == "M_UNKNOWN")
        let downText = down.json?["error"]?.stringValue ?? ""
        #expect(!downText.isEmpty && !downText.contains("127.0.0.1"), "\(downText)")
        await fixture.shutdown()
    }

    /// An upstream answer that is not JSON — a proxy's error page naming its software — is not
    /// relayed: 502 with a Matrix error body.
    @Test func aPassedThroughAnswerThatIsNotJSONIsAMatrixError() async throws {
        let fixture = try await ResidentFixture()
        let page = "<html><body>502 Bad Gateway<hr>nginx/1.25.3</body></html>"
        let upstream = try CountingListener(answer: Array("""
            HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\nConnection: close\r\n\r\n\(page)
            """.utf8))
        defer { upstream.stop() }
        let (_, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, _) = try await fixture.startBridgedWorker(tokenFile: tokenFile, passthrough: "http://127.0.0.1:\(upstream.port)")
        defer { worker.stop() }
        let answer = try await fixture.requester(worker).makeLeave(roomID: "!elsewhere:resident.test", userID: Self.bob)
        #expect(upstream.acceptedConnections == 1)
        #expect(answer.status == 502)
        #expect(answer.errcode == "M_UNKNOWN")
        let text = answer.json?["error"]?.stringValue ?? ""
        #expect(!text.isEmpty && !text.contains("nginx"), "\(text)")
        await fixture.shutdown()
    }

    @Test func theBridgeEndpointsRefuseAMissingOrWrongToken() async throws {
        let fixture = try await ResidentFixture()
        let (token, tokenFile) = try Self.makeToken()
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        defer { worker.stop() }
        let feed = internalURL + "/_leave_worker/v1/events?from=0&timeout_ms=0"
        let push = internalURL + "/_leave_worker/v1/rooms/%21r%3Aresident.test/events"
        for offered in [nil, "wrong", token + "x", String(token.dropLast())] as [String?] {
            let read = try await HomeserverOfRecord.request("GET", feed, token: offered)
            #expect(read.status == 401 && read.body?["errcode"]?.stringValue == "M_UNAUTHORIZED", "\(String(describing: offered))")
            let written = try await HomeserverOfRecord.request("PUT", push, token: offered, body: Array(#"{"room_version":"10","events":[]}"#.utf8))
            #expect(written.status == 401 && written.body?["errcode"]?.stringValue == "M_UNAUTHORIZED")
        }
        let read = try await HomeserverOfRecord.request("GET", feed, token: token)
        #expect(read.status == 200)
        #expect(read.body?["events"]?.arrayValue?.isEmpty == true)
        // Never on the federation listener.
        let outside = try await HomeserverOfRecord.request("GET", worker.baseURL + "/_leave_worker/v1/events?from=0", token: token)
        #expect(outside.status == 404)

        // A worker stopping ends a long-poll in flight at once (empty), not after its 20 s wait.
        let started = ContinuousClock.now
        let pending = Task { try await HomeserverOfRecord.request("GET", feed.replacingOccurrences(of: "timeout_ms=0", with: "timeout_ms=20000"), token: token) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(worker.stop() == 0)
        let ended = try await pending.value
        #expect(ended.status == 200 && ended.body?["events"]?.arrayValue?.isEmpty == true)
        #expect(ContinuousClock.now - started < .seconds(15))
        await fixture.shutdown()
    }

    /// A random token in a private file.
    static func makeToken() throws -> (String, URL) {
        let token = (0..<32).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString).token")
        try PrivateFile.write(token + "\n", to: file)
        return (token, file)
    }

    /// make_leave → sign → send_leave for `userID` through `worker`; the leave's event ID.
    static func leave(_ userID: String, room roomID: String, fixture: ResidentFixture, worker: WorkerProcess) async throws -> String {
        let remote = fixture.requester(worker)
        let template = try await remote.makeLeave(roomID: roomID, userID: userID)
        let body = try #require(template.json, "make_leave answered \(template.status)")
        let leave = try fixture.remote.eventSigner.signLeave(makeLeaveResponse: body, roomID: roomID, userID: userID)
        let sent = try await remote.sendLeave(roomID: roomID, eventID: leave.eventID, pdu: leave.pdu)
        #expect(sent.status == 200, "send_leave: \(String(decoding: sent.body, as: UTF8.self))")
        return leave.eventID
    }
}

extension ResidentFixture {
    /// A worker with the homeserver bridge on an internal port of its own (and, if given, the
    /// passthrough to `passthrough`, and `settings` on top of the fixture's); returns it with the
    /// internal listener's base URL.
    func startBridgedWorker(tokenFile: URL, passthrough: String? = nil, settings: [String: String] = [:]) async throws
        -> (WorkerProcess, String)
    {
        var environment = self.environment.merging(settings) { $1 }
        environment["LEAVE_WORKER_PASSTHROUGH_TIMEOUT_MS"] = "5000"
        let port = WorkerProcess.freePort()
        environment["LEAVE_WORKER_INTERNAL_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEAVE_WORKER_INTERNAL_TOKEN_FILE"] = tokenFile.path
        if let passthrough { environment["LEAVE_WORKER_PASSTHROUGH_URL"] = passthrough }
        let worker = try await WorkerProcess(environment: environment)
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<200 {   // the internal listener starts beside the federation one
            if (try? await HomeserverOfRecord.request("GET", url + "/_leave_worker/v1/events", token: nil))?.status == 401 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (worker, url)
    }
}
