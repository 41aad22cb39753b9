import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import TestSupport
import Testing

/// The signed adversarial suite: a member server sends leaves that are VALIDLY SIGNED (hashed and
/// signed after the change) but carry extreme values — numbers at their limits, long and many
/// `prev_events`/`auth_events`, many signatures, Unicode-equivalent-but-different identifiers,
/// content near 64 KiB, odd but legal v1 identifiers. For each: the contract's answer, nothing
/// written when refused, the worker still running, and another member's `make_leave` +
/// `send_leave` in the same room succeeding afterwards. One worker process and one room per room
/// version serve the whole table.
@Suite(.serialized)
struct AdversarialLeaveTests {
    static let remoteNames = ["remote.test", "port.test:8448", "[::1]:8448"]

    /// One row of the table: a leave sent by a member of the room of `version` on `server`.
    struct Case {
        let name: String
        let version: String
        let status: Int
        let errcode: String?
        var server = "remote.test"
        let send: (Leaver) async throws -> FederationResponse
    }

    /// A PDU as it is sent and the event ID its path names.
    struct Leave {
        var pdu: JSONObject
        var eventID: String
    }

    /// What a case works with: the room, the member whose leave it sends, and that member's server.
    struct Leaver {
        let room: BuiltRoom
        let user: String
        let signer: EventSigner
        let requester: FederationRequester

        var version: RoomVersion { room.version }

        /// The room's leave template for `user`, changed by `mutate`, then hashed and signed. In v6+
        /// an integer beyond ±(2^53−1) has no canonical form to hash or sign: such a leave carries
        /// the hash and signature of the event before the change (its format is refused first).
        func leave(_ mutate: (inout JSONObject) -> Void = { _ in }) throws -> Leave {
            var template = room.leaveTemplate(userID: user, originServerTS: Int64(Date().timeIntervalSince1970 * 1000))
            if version.eventIDFormat == .explicit {
                template["event_id"] = .string("$leave-\(UUID().uuidString):\(signer.serverName)")
            }
            var event = template
            mutate(&event)
            if let signed = try? signer.hashAndSign(event, version: version) {
                return Leave(pdu: signed.pdu, eventID: signed.eventID)
            }
            let signed = try signer.hashAndSign(template, version: version)
            var pdu = signed.pdu
            mutate(&pdu)
            return Leave(pdu: pdu, eventID: signed.eventID)
        }

        func send(_ leave: Leave, eventID: String? = nil, roomID: String? = nil) async throws -> FederationResponse {
            try await requester.sendLeave(roomID: roomID ?? room.roomID, eventID: eventID ?? leave.eventID, pdu: leave.pdu)
        }

        func send(_ mutate: (inout JSONObject) -> Void) async throws -> FederationResponse {
            try await send(try leave(mutate))
        }

        /// `count` references in the version's format to events of the room (the last ones).
        func knownReferences(_ count: Int) -> [JSONValue] {
            room.events.suffix(count).map { $0.reference(in: version) }
        }

        /// A reference to an event ID the room does not have.
        func reference(to eventID: String) -> JSONValue {
            version.referenceFormat == .pairs ? [.string(eventID), ["sha256": "aGFzaA"]] : .string(eventID)
        }
    }

    static let maxSafe: Int64 = 9_007_199_254_740_991

    /// Numbers at their limits in `depth`, `origin_server_ts` and `content`, in v10 (strict
    /// canonical JSON: beyond ±(2^53−1) is 400) and v5 (64-bit integers legal, forwarded exactly).
    /// A timestamp past the key's `valid_until_ts` fails the signature check (v5+ enforce it).
    static func numberCases() -> [Case] {
        var cases: [Case] = []
        for version in ["10", "5"] {
            let strict = version == "10"
            let values: [(String, Int64)] = [
                ("0", 0), ("-1", -1), ("2^53-1", maxSafe), ("2^53", maxSafe + 1), ("2^63-1", .max),
            ]
            for (label, value) in values {
                let beyondSafe = value > maxSafe
                let depthStatus = value < 0 || (strict && beyondSafe) ? 400 : 200
                let tsStatus = strict && beyondSafe ? 400 : value >= maxSafe ? 403 : 200
                let contentStatus = strict && beyondSafe ? 400 : 200
                cases.append(Case(name: "v\(version) depth \(label)", version: version, status: depthStatus,
                                  errcode: errcode(depthStatus)) { try await $0.send { $0["depth"] = .integer(value) } })
                cases.append(Case(name: "v\(version) origin_server_ts \(label)", version: version, status: tsStatus,
                                  errcode: errcode(tsStatus)) { try await $0.send { $0["origin_server_ts"] = .integer(value) } })
                cases.append(Case(name: "v\(version) content integer \(label)", version: version, status: contentStatus,
                                  errcode: errcode(contentStatus)) { try await $0.send { $0["content"] = ["membership": "leave", "n": .integer(value)] } })
            }
            let minStatus = strict ? 400 : 200
            cases.append(Case(name: "v\(version) content integer -2^63", version: version, status: minStatus,
                              errcode: errcode(minStatus)) { try await $0.send { $0["content"] = ["membership": "leave", "n": .integer(.min)] } })
        }
        return cases
    }

    static func errcode(_ status: Int) -> String? {
        switch status {
        case 200: nil
        case 400: "M_BAD_JSON"
        case 403: "M_FORBIDDEN"
        case 404: "M_NOT_FOUND"
        case 413: "M_TOO_LARGE"
        default: "M_UNKNOWN"
        }
    }

    /// Many, long, duplicate and unknown `prev_events` / `auth_events`.
    static func referenceCases() -> [Case] {
        let longV1ID = "$" + String(repeating: "l", count: 255 - 1 - ":remote.test".utf8.count) + ":remote.test"
        let tooLongV1ID = "$l" + longV1ID.dropFirst()
        let unknown = "$unknownunknownunknownunknownunknownunknown0"
        return [
            Case(name: "20 prev_events", version: "10", status: 200, errcode: nil) { leaver in
                try await leaver.send { $0["prev_events"] = .array(leaver.knownReferences(20)) }
            },
            Case(name: "21 prev_events", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["prev_events"] = .array(leaver.knownReferences(20) + [leaver.reference(to: unknown)]) }
            },
            Case(name: "the same prev_event twice", version: "10", status: 200, errcode: nil) { leaver in
                try await leaver.send { $0["prev_events"] = .array(leaver.knownReferences(1) + leaver.knownReferences(1)) }
            },
            Case(name: "unknown prev_event", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { $0["prev_events"] = [leaver.reference(to: unknown)] }
            },
            // The state before it would be empty: no rule admits it (it would also become an
            // extremity with no parents, cited by every later template).
            Case(name: "no prev_events", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { $0["prev_events"] = [] }
            },
            // The state before it (the create event's) holds no membership of the sender.
            Case(name: "a prev_event before the sender's membership", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { $0["prev_events"] = [leaver.room.events[0].reference(in: leaver.version)] }
            },
            Case(name: "10 auth_events (the selected ones repeated)", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { event in
                    let selected = event["auth_events"]?.arrayValue ?? []
                    event["auth_events"] = .array(Array((0..<10).map { selected[$0 % selected.count] }))
                }
            },
            Case(name: "11 auth_events", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { event in
                    let selected = event["auth_events"]?.arrayValue ?? []
                    event["auth_events"] = .array(Array((0..<11).map { selected[$0 % selected.count] }))
                }
            },
            Case(name: "the same auth_event twice", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { event in
                    let selected = event["auth_events"]?.arrayValue ?? []
                    event["auth_events"] = .array(selected + selected.suffix(1))
                }
            },
            Case(name: "unknown auth_event", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { event in
                    event["auth_events"] = .array((event["auth_events"]?.arrayValue ?? []).dropLast() + [leaver.reference(to: unknown)])
                }
            },
            Case(name: "v10 prev_event ID of 255 bytes", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["prev_events"] = [.string(longV1ID)] }
            },
            Case(name: "v1 unknown prev_event ID of 255 bytes", version: "1", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { $0["prev_events"] = [leaver.reference(to: longV1ID)] }
            },
            Case(name: "v1 20 unknown prev_event IDs of 255 bytes", version: "1", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { $0["prev_events"] = .array(Array(repeating: leaver.reference(to: longV1ID), count: 20)) }
            },
            Case(name: "v1 unknown auth_event ID of 255 bytes", version: "1", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { event in
                    event["auth_events"] = .array((event["auth_events"]?.arrayValue ?? []).dropLast() + [leaver.reference(to: longV1ID)])
                }
            },
            Case(name: "v1 auth_event ID of 256 bytes", version: "1", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["auth_events"] = [leaver.reference(to: tooLongV1ID)] }
            },
            Case(name: "v1 prev_event ID of 256 bytes", version: "1", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["prev_events"] = [leaver.reference(to: tooLongV1ID)] }
            },
            Case(name: "v1 20 prev_events", version: "1", status: 200, errcode: nil) { leaver in
                try await leaver.send { $0["prev_events"] = .array(leaver.knownReferences(20)) }
            },
        ]
    }

    /// A syntactically valid signature that verifies with no key.
    static let junkSignature = JSONValue.string(Base64.encodeUnpadded([UInt8](repeating: 7, count: 64)))

    /// Many signatures, missing signatures and malformed ones.
    static func signatureCases() -> [Case] {
        [
            Case(name: "50 other servers x 10 keys of signatures", version: "10", status: 200, errcode: nil) { leaver in
                try await leaver.send { event in
                    var signatures = JSONObject()
                    for server in 0..<50 {
                        var keys = JSONObject()
                        for key in 0..<10 { keys["ed25519:k\(key)"] = junkSignature }
                        signatures["s\(server).test"] = .object(keys)
                    }
                    event["signatures"] = .object(signatures)
                }
            },
            Case(name: "100 key IDs of the sender's server, one of them valid", version: "10", status: 200, errcode: nil) { leaver in
                try await leaver.send { event in
                    var keys = JSONObject()
                    for key in 0..<99 { keys["ed25519:unknown\(key)"] = junkSignature }
                    event["signatures"] = [leaver.signer.serverName: .object(keys)]
                }
            },
            Case(name: "100 key IDs of the sender's server, none valid", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                var leave = try leaver.leave()
                var keys = JSONObject()
                for key in 0..<100 { keys["ed25519:unknown\(key)"] = junkSignature }
                leave.pdu["signatures"] = [leaver.signer.serverName: .object(keys)]
                return try await leaver.send(leave)
            },
            Case(name: "no signatures member", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                var leave = try leaver.leave()
                leave.pdu["signatures"] = nil
                return try await leaver.send(leave)
            },
            Case(name: "empty signatures", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                var leave = try leaver.leave()
                leave.pdu["signatures"] = [:]
                return try await leaver.send(leave)
            },
            Case(name: "signatures of another server only", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                var leave = try leaver.leave()
                leave.pdu["signatures"] = ["other.test": ["ed25519:k1": junkSignature]]
                return try await leaver.send(leave)
            },
            Case(name: "signatures not an object", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                var leave = try leaver.leave()
                leave.pdu["signatures"] = "signed"
                return try await leaver.send(leave)
            },
            Case(name: "the sender server's signatures not an object", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                var leave = try leaver.leave()
                leave.pdu["signatures"] = [leaver.signer.serverName: "signed"]
                return try await leaver.send(leave)
            },
        ]
    }

    /// `text` with its first `K` replaced by KELVIN SIGN (U+212A), canonically equivalent to it.
    static func kelvin(_ text: String) -> String {
        var replaced = false
        return String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            guard !replaced, scalar == "K" else { return scalar }
            replaced = true
            return "\u{212A}"
        }))
    }

    /// Equivalent-but-different (and fullwidth) characters in the path and the body.
    static func unicodeCases() -> [Case] {
        /// A v10 leave whose computed event ID contains a `K` (about half of them do).
        func leaveWithK(_ leaver: Leaver) throws -> Leave {
            for attempt in 0..<200 {
                let leave = try leaver.leave { $0["origin_server_ts"] = .integer(1_700_000_000_000 + Int64(attempt)) }
                if leave.eventID.contains("K") { return leave }
            }
            throw WorkerProcessError(description: "no event ID with a K in 200 attempts")
        }
        func v1Pair(_ leaver: Leaver, _ body: String, _ path: String) async throws -> FederationResponse {
            let suffix = "-\(UUID().uuidString):remote.test"
            let leave = try leaver.leave { $0["event_id"] = .string("$" + body + suffix) }
            return try await leaver.send(leave, eventID: "$" + path + suffix)
        }
        return [
            Case(name: "path event ID with KELVIN SIGN for K", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                let leave = try leaveWithK(leaver)
                return try await leaver.send(leave, eventID: kelvin(leave.eventID))
            },
            Case(name: "path event ID with FULLWIDTH K for K", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                let leave = try leaveWithK(leaver)
                return try await leaver.send(leave, eventID: leave.eventID.replacingOccurrences(of: "K", with: "\u{FF2B}"))
            },
            Case(name: "path room ID with KELVIN SIGN for K", version: "10", status: 404, errcode: "M_NOT_FOUND") { leaver in
                let lookAlike = kelvin(leaver.room.roomID)
                return try await leaver.send(try leaver.leave { $0["room_id"] = .string(lookAlike) }, roomID: lookAlike)
            },
            Case(name: "body room_id with KELVIN SIGN for K", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["room_id"] = .string(kelvin(leaver.room.roomID)) }
            },
            Case(name: "sender and state_key a look-alike of the member", version: "10", status: 403, errcode: "M_FORBIDDEN") { leaver in
                try await leaver.send { event in
                    event["sender"] = .string(kelvin(leaver.user))
                    event["state_key"] = .string(kelvin(leaver.user))
                }
            },
            Case(name: "state_key a look-alike of the sender", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["state_key"] = .string(kelvin(leaver.user)) }
            },
            Case(name: "sender a look-alike of the state_key", version: "10", status: 400, errcode: "M_BAD_JSON") { leaver in
                try await leaver.send { $0["sender"] = .string(kelvin(leaver.user)) }
            },
            Case(name: "v1 event_id precomposed é, path e + U+0301", version: "1", status: 400, errcode: "M_BAD_JSON") {
                try await v1Pair($0, "caf\u{E9}", "cafe\u{301}")
            },
            Case(name: "v1 event_id K, path KELVIN SIGN", version: "1", status: 400, errcode: "M_BAD_JSON") {
                try await v1Pair($0, "K", "\u{212A}")
            },
            Case(name: "v1 event_id GREEK OMEGA, path OHM SIGN", version: "1", status: 400, errcode: "M_BAD_JSON") {
                try await v1Pair($0, "\u{3A9}", "\u{2126}")
            },
            Case(name: "v1 event_id K, path FULLWIDTH K", version: "1", status: 400, errcode: "M_BAD_JSON") {
                try await v1Pair($0, "K", "\u{FF2B}")
            },
        ]
    }

    /// A leave whose content is padded so that the PDU is exactly `size` bytes.
    static func padded(_ leaver: Leaver, to size: Int) throws -> Leave {
        var padding = 60_000
        for _ in 0..<3 {
            let leave = try leaver.leave { $0["content"] = ["membership": "leave", "pad": .string(String(repeating: "x", count: padding))] }
            let length = leave.pdu.compactBytes().count
            if length == size { return leave }
            padding += size - length
        }
        throw WorkerProcessError(description: "could not pad a leave to \(size) bytes")
    }

    /// Content near 64 KiB, and odd but legal identifiers of a v1 room (event IDs of any opaque
    /// text, servers with ports and IPv6 literals, each signing the event IDs it names).
    static func sizeAndIdentifierCases() -> [Case] {
        [
            // The limit counts every signature: a leave of the limit has no room for ours.
            Case(name: "PDU of exactly 65536 bytes", version: "10", status: 413, errcode: "M_TOO_LARGE") { leaver in
                try await leaver.send(try padded(leaver, to: 65536))
            },
            Case(name: "v1 PDU of exactly 65536 bytes", version: "1", status: 413, errcode: "M_TOO_LARGE") { leaver in
                try await leaver.send(try padded(leaver, to: 65536))
            },
            // Stored with ours within the limit: the room's next make_leave (v1: it reads the
            // extremities back, this leave among them) and send_leave go through.
            Case(name: "PDU with room for our signature", version: "10", status: 200, errcode: nil) { leaver in
                try await leaver.send(try padded(leaver, to: 65536 - 300))
            },
            Case(name: "v1 PDU with room for our signature", version: "1", status: 200, errcode: nil) { leaver in
                try await leaver.send(try padded(leaver, to: 65536 - 300))
            },
            Case(name: "PDU of 65537 bytes", version: "10", status: 413, errcode: "M_TOO_LARGE") { leaver in
                try await leaver.send(try padded(leaver, to: 65537))
            },
            Case(name: "v1 event_id with an odd opaque part", version: "1", status: 200, errcode: nil) { leaver in
                try await leaver.send { $0["event_id"] = .string("$ odd/..%2F?#&=+é😀\"\\\u{7F}\(UUID().uuidString):remote.test") }
            },
            Case(name: "v1 member on a server with a port", version: "1", status: 200, errcode: nil, server: "port.test:8448") {
                try await $0.send(try $0.leave())
            },
            Case(name: "v1 member on an IPv6 literal with a port", version: "1", status: 200, errcode: nil, server: "[::1]:8448") {
                try await $0.send(try $0.leave())
            },
            Case(name: "v1 event_id of another server that did not sign", version: "1", status: 403, errcode: "M_FORBIDDEN") {
                try await $0.send { $0["event_id"] = .string("$x\(UUID().uuidString):port.test:8448") }
            },
        ]
    }

    static var cases: [Case] {
        numberCases() + referenceCases() + signatureCases() + unicodeCases() + sizeAndIdentifierCases()
    }

    @Test func signedExtremeLeavesGetTheContractsAnswerAndTheRoomKeepsWorking() async throws {
        let fixture = try await ResidentFixture(remoteNames: Self.remoteNames)
        let worker = try await fixture.startWorker()
        defer { worker.stop() }
        let cases = Self.cases
        // The member whose leave case `index` sends, and the member who leaves after it.
        func leaverID(_ index: Int) -> String { "@Kcase\(index):\(cases[index].server)" }
        func nextID(_ index: Int) -> String { "@next\(index):remote.test" }

        var rooms: [String: BuiltRoom] = [:]
        for version in Set(cases.map(\.version)) {
            let indices = cases.indices.filter { cases[$0].version == version }
            let members = indices.flatMap { [
                PlannedMember(userID: leaverID($0), membership: .join), PlannedMember(userID: nextID($0), membership: .join),
            ] }
            let room = try fixture.buildRoom(version: version, members: members, label: version == "1" ? "Kodd é/?" : "Kroom")
            try await fixture.importRoom(room)
            rooms[version] = room
        }

        for (index, check) in cases.enumerated() {
            let room = try #require(rooms[check.version])
            let remote = try #require(Self.remoteNames.firstIndex(of: check.server))
            let leaver = Leaver(room: room, user: leaverID(index), signer: fixture.remotes[remote].eventSigner,
                                requester: fixture.requester(worker, remote: remote))
            let before = try await fixture.writtenRows(room.roomID)
            let response = try await check.send(leaver)
            let body = String(decoding: response.body, as: UTF8.self)
            #expect(response.status == check.status, "\(check.name): \(response.status) \(body)")
            #expect(response.errcode == check.errcode, "\(check.name): \(body)")
            if check.status == 200 {
                #expect(try await membership(fixture, room.roomID, leaver.user) == "leave", "\(check.name)")
            } else {
                #expect(try await fixture.writtenRows(room.roomID) == before, "\(check.name) wrote rows")
                #expect(try await membership(fixture, room.roomID, leaver.user) == "join", "\(check.name)")
            }
            #expect(worker.process.isRunning, "\(check.name) stopped the worker")

            // Another member of the same room still leaves: make_leave, then send_leave.
            let next = nextID(index)
            let requester = fixture.requester(worker)
            let template = try await requester.makeLeave(roomID: room.roomID, userID: next)
            try #require(template.status == 200, "after \(check.name): make_leave \(String(decoding: template.body, as: UTF8.self))")
            let signed = try fixture.remote.eventSigner.signLeave(
                makeLeaveResponse: try #require(template.json), roomID: room.roomID, userID: next)
            let sent = try await requester.sendLeave(roomID: room.roomID, eventID: signed.eventID, pdu: signed.pdu)
            #expect(sent.status == 200, "after \(check.name): send_leave \(String(decoding: sent.body, as: UTF8.self))")
            #expect(try await membership(fixture, room.roomID, next) == "leave", "after \(check.name)")
        }
        #expect(worker.process.isRunning)
        await fixture.shutdown()
    }

    /// The stored membership of `user` (Postgres compares the text byte for byte).
    private func membership(_ fixture: ResidentFixture, _ roomID: String, _ user: String) async throws -> String? {
        try await fixture.pool.withConnection { connection in
            try connection.query("SELECT membership FROM memberships WHERE room_id = $1 AND user_id = $2",
                                 [.text(roomID), .text(user)]).rows.first?.string(0)
        }
    }
}
