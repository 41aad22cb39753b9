@testable import LeaveService
import MatrixCore
import Storage
import TestSupport
import Testing

/// The service's cache of parsed stored events keeps what every request reads while once-read
/// events pass through (it used to start over when full, dropping the room's create and
/// power-levels events with the rest).
struct ParsedEventCacheTests {
    private let version = RoomVersion("10")!

    /// Version 10's events of events.json as the stored PDUs a request reads, with their types.
    private func records() throws -> [(type: String, stored: StoredPDU)] {
        let file = try #require(JSONParser.parse(try Vectors.bytes("events")).objectValue)
        let room = try #require(file["versions"]?.objectValue?["10"]?.objectValue)
        return try (room["events"]?.arrayValue ?? []).map { value in
            let json = try #require((value["stored_pdu"] ?? value["pdu"])?.objectValue)
            let pdu = try PDU(json: json, roomVersion: version)
            return (pdu.type, StoredPDU(eventID: try #require(value["event_id"]?.stringValue), depth: pdu.depth, streamPosition: 1, pdu: json.compactBytes()))
        }
    }

    /// `stored` under its own ID but with `other`'s bytes: a cached parse answers without reading
    /// them, a fresh parse reads `other`.
    private func lookUp(_ stored: StoredPDU, withBytesOf other: StoredPDU, in cache: ParsedEventCache) throws -> String {
        let altered = StoredPDU(eventID: stored.eventID, depth: stored.depth, streamPosition: stored.streamPosition, pdu: other.pdu)
        return try cache.event(altered, version: version).pdu.type
    }

    @Test func anEventReadOnEveryRequestStaysWhileOthersPassThrough() throws {
        let all = try records()
        let create = try #require(all.first { $0.type == "m.room.create" }).stored
        let others = all.filter { $0.type != "m.room.create" }
        try #require(others.count >= 3)
        let cache = ParsedEventCache(capacity: 2)
        for passing in others {
            _ = try cache.event(create, version: version)    // every request reads it
            _ = try cache.event(passing.stored, version: version)   // read once
        }
        #expect(try lookUp(create, withBytesOf: others[0].stored, in: cache) == "m.room.create")
    }

    @Test func theLeastRecentlyReadEventIsForgottenFirst() throws {
        let all = try records()
        let create = try #require(all.first { $0.type == "m.room.create" }).stored
        let others = all.filter { $0.type != "m.room.create" }
        try #require(others.count >= 2)
        let cache = ParsedEventCache(capacity: 2)
        _ = try cache.event(create, version: version)
        for passing in others { _ = try cache.event(passing.stored, version: version) }
        #expect(try lookUp(create, withBytesOf: others[0].stored, in: cache) == others[0].type)
    }

    /// A member event whose content holds 16,000 one-element arrays: 64 KB stored, ≈ 1.4 MB parsed.
    private func bloated(_ member: StoredPDU, id: String) throws -> StoredPDU {
        var json = try #require(JSONParser.parse(member.pdu).objectValue)
        json["content"] = .object(JSONObject([
            ("membership", .string("leave")), ("x", .array(Array(repeating: .array([.integer(0)]), count: 16_000))),
        ]))
        return StoredPDU(eventID: id, depth: member.depth, streamPosition: 1, pdu: json.compactBytes())
    }

    /// The cache is bounded by the memory its parsed events hold, not only by their count: 4,096
    /// events like `bloated` would hold 5.8 GB. The once-read bloated ones pass through within the
    /// budget while the create event every request reads stays.
    @Test func parsedEventsAreBoundedByTheMemoryTheyHold() throws {
        let all = try records()
        let create = try #require(all.first { $0.type == "m.room.create" }).stored
        let member = try #require(all.first { $0.type == "m.room.member" }).stored
        let budget = 4 << 20
        let cache = ParsedEventCache(capacity: 4096, heapByteBudget: budget)
        let createBytes = try cache.event(create, version: version).pdu.json.estimatedHeapBytes
        #expect(cache.heapBytes == createBytes)
        for index in 0..<12 {
            let event = try cache.event(try bloated(member, id: "$bloated\(index)"), version: version)
            #expect(event.pdu.json.estimatedHeapBytes >= 16_000 * 56, "the estimate misses the arrays' storage")
            _ = try cache.event(create, version: version)    // every request reads it
            #expect(cache.heapBytes <= budget)
        }
        #expect(cache.heapBytes > budget / 2, "the bloated events were not cached at all")
        #expect(try lookUp(create, withBytesOf: member, in: cache) == "m.room.create", "the create event was evicted")
    }

    /// An event the caller does not keep (a send_leave's own membership event) is parsed but not
    /// cached: the next read parses again, and evicts nothing.
    @Test func anEventNotKeptIsNotCached() throws {
        let all = try records()
        let create = try #require(all.first { $0.type == "m.room.create" }).stored
        let member = try #require(all.first { $0.type == "m.room.member" })
        let cache = ParsedEventCache(capacity: 1)
        _ = try cache.event(create, version: version)
        #expect(try cache.event(member.stored, version: version, keep: { _ in false }).pdu.type == "m.room.member")
        #expect(try lookUp(create, withBytesOf: member.stored, in: cache) == "m.room.create", "the create event was evicted")
        #expect(try lookUp(member.stored, withBytesOf: create, in: cache) == "m.room.create", "the member event was cached")
    }
}
