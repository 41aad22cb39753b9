import Foundation
import MatrixCore
import MatrixCrypto
import RemoteHomeserver
import TestSupport
import Testing

/// `leave-worker rooms import`: every event checked, all or nothing, idempotent.
@Suite(.serialized)
struct ImportTests {
    @Test func aBadEventStopsTheImportAndNothingIsStored() async throws {
        let fixture = try await ResidentFixture()
        let room = try fixture.buildRoom(version: "10", members: PlannedMember.generate(count: 5, membership: .join, servers: ["remote.test"]))
        var events = room.events.map(\.pdu)
        let cases: [(String, (inout JSONObject) -> Void, String)] = [
            // What the signatures cover (the redacted form) changed after signing. (A change outside
            // it fails only the content hash: the event goes on redacted — below.)
            ("membership changed after signing", { $0["content"] = ["membership": "leave"] }, "does not verify"),
            ("signature removed", { $0["signatures"] = .object(JSONObject()) }, "not signed"),
        ]
        // An auth event that does not come before: re-hashed and re-signed, so only that is wrong.
        var resigned = room.events[7].pdu
        resigned["auth_events"] = ["$missingmissingmissingmissingmissingmissing0"]
        resigned["signatures"] = nil
        resigned["hashes"] = nil
        let sender = resigned["sender"]?.stringValue ?? ""
        let signer = sender.hasSuffix(":remote.test") ? fixture.remote.eventSigner : fixture.resident
        let missingAuth = try signer.hashAndSign(resigned, version: room.version).pdu
        let allCases = cases + [("auth event missing", { $0 = missingAuth }, "auth event")]
        for (name, mutate, reason) in allCases {
            events = room.events.map(\.pdu)
            mutate(&events[7])
            let document: JSONObject = ["room_version": "10", "events": .array(events.map { .object($0) })]
            let result = try await WorkerProcess.runWithoutBlocking(["rooms", "import", "-"], environment: fixture.environment,
                                               stdin: Data(document.compactBytes()))
            #expect(result.status != 0, "\(name)")
            #expect(result.stderr.contains("event #7"), "\(name): \(result.stderr)")
            #expect(result.stderr.contains(reason), "\(name): \(result.stderr)")
            #expect(try await fixture.writtenRows(room.roomID) == [0, 0, 0, 0], "\(name) stored rows")
        }

        let garbage = try await WorkerProcess.runWithoutBlocking(["rooms", "import", "-"], environment: fixture.environment, stdin: Data("{".utf8))
        #expect(garbage.status != 0)
        #expect(garbage.stderr.contains("not valid JSON"))

        // The room imports — its event #7 with content added after signing, kept redacted (its
        // hash no longer matches, as for every event a server has redacted since); importing the
        // intact room again changes nothing (the same event IDs).
        events = room.events.map(\.pdu)
        var content = try #require(events[7]["content"]?.objectValue)
        content["displayname"] = "added"
        events[7]["content"] = .object(content)
        let document: JSONObject = ["room_version": "10", "events": .array(events.map { .object($0) })]
        let imported = try await WorkerProcess.runWithoutBlocking(["rooms", "import", "-"], environment: fixture.environment,
                                                                  stdin: Data(document.compactBytes()))
        #expect(imported.status == 0, "\(imported.stderr)")
        let first = try JSONParser.parse(imported.stdout)
        #expect(first["new_events"]?.integerValue == Int64(room.events.count))
        let stored = try #require(try await fixture.storedPDU(room.events[7].eventID)?.objectValue)
        #expect(stored["content"]?["displayname"] == nil, "the event was stored unredacted")
        let second = try await fixture.importRoom(room)
        #expect(second["new_events"]?.integerValue == 0)
        #expect(try await fixture.members(room.roomID).values.filter { $0 == "join" }.count == 6)
        await fixture.shutdown()
    }

    /// After a key rotation (deploy/README.md, "Key rotation") the events our server signed before
    /// it carry the key now in `LEAVE_WORKER_OLD_SIGNING_KEYS`: they verify with it, as far as its
    /// `expired_ts` allows in a room enforcing key validity (v5+). The import refused them ("does
    /// not publish key"): only the key file's keys counted as ours.
    @Test func eventsWeSignedWithARetiredKeyImportAsItsExpiryAllows() async throws {
        let fixture = try await ResidentFixture()
        let room = try fixture.buildRoom(
            version: "10", members: PlannedMember.generate(count: 3, membership: .join, servers: ["remote.test"]), label: "rotated")
        let sent = room.events.compactMap { $0.pdu["origin_server_ts"]?.integerValue }
        let lastSent = try #require(sent.max())
        let newKey = try SigningKey.generate(version: "rs2")

        // Retired before the room's events were sent: they cannot carry it.
        let early = try fixture.rotation(to: newKey, retiredAt: 1)
        defer { for file in early.files { try? FileManager.default.removeItem(at: file) } }
        let refused = try await WorkerProcess.runWithoutBlocking(
            ["rooms", "import", "-"], environment: fixture.environment.merging(early.settings) { $1 }, stdin: Data(room.importBytes()))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("event #0") && refused.stderr.contains("expired"), "\(refused.stderr)")
        #expect(try await fixture.writtenRows(room.roomID) == [0, 0, 0, 0])

        // Retired after: the room imports.
        let late = try fixture.rotation(to: newKey, retiredAt: lastSent)
        defer { for file in late.files { try? FileManager.default.removeItem(at: file) } }
        let imported = try await WorkerProcess.runWithoutBlocking(
            ["rooms", "import", "-"], environment: fixture.environment.merging(late.settings) { $1 }, stdin: Data(room.importBytes()))
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try JSONParser.parse(imported.stdout)["new_events"]?.integerValue == Int64(room.events.count))
        await fixture.shutdown()
    }
}
