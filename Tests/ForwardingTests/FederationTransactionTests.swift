@testable import Forwarding
import MatrixCore
import MatrixCrypto
import Storage
import Testing

struct FederationTransactionTests {
    private func delivery(_ eventID: String, pdu: String) -> ForwardedEvent {
        ForwardedEvent(roomID: "!r:resident.test", eventID: eventID, streamPosition: 1, pdu: Array(pdu.utf8))
    }

    @Test func theBodyCarriesOriginTimestampAndThePDUsAsStored() throws {
        let first = #"{"type":"m.room.member","content":{"membership":"leave"},"depth":7}"#
        let second = #"{"type":"m.room.member","depth":8,"unsigned":{"age":1}}"#
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1_700_000_000_123,
                                                deliveries: [delivery("$1", pdu: first), delivery("$2", pdu: second)])
        #expect(transaction.deliveries.map(\.eventID) == ["$1", "$2"])
        #expect(transaction.undeliverable.isEmpty)
        let body = try JSONParser.parse(transaction.body)
        #expect(body["origin"] == "resident.test")
        #expect(body["origin_server_ts"] == .integer(1_700_000_000_123))
        let pdus = try #require(body["pdus"]?.arrayValue)
        #expect(pdus == [try JSONParser.parse(first), try JSONParser.parse(second)])
        #expect(body.objectValue?.keys == ["origin", "origin_server_ts", "pdus"])
        // Written as the JSON value would write it, so the signature over these bytes as they are is
        // the one over the parsed body.
        #expect(transaction.body == body.compactBytes())
        let target = "/_matrix/federation/v1/send/1"
        #expect(XMatrixRequest.signingBytes(method: "PUT", uri: target, origin: "resident.test", destination: "b.test",
                                            encodedContent: transaction.body)
                == (try XMatrixRequest.signingBytes(method: "PUT", uri: target, origin: "resident.test", destination: "b.test",
                                                    content: body)))
    }

    /// The sender's cache hands out what ``FederationTransaction/encode(_:)`` writes, the PDUs no
    /// transaction can carry included (nil), for every destination that asks — also when two events
    /// claim one position (`$a` and `$float` here) and when it is full.
    @Test func theEncodedPDUCacheAnswersAsEncodingDoes() {
        let cache = EncodedPDUCache(maximumEntries: 2)
        let events = [delivery("$a", pdu: #"{"depth":3,"b":[1,"x"],"a":{"z":null}}"#), delivery("$float", pdu: #"{"d":1.5}"#),
                      ForwardedEvent(roomID: "!r", eventID: "$c", streamPosition: 2, pdu: Array("{}".utf8))]
        for _ in 0..<3 {
            for event in events {
                #expect(cache.encoded(event) == event.pdu.flatMap(FederationTransaction.encode))
            }
        }
        #expect(cache.encoded(events[0]).map { String(decoding: $0, as: UTF8.self) } == #"{"a":{"z":null},"b":[1,"x"],"depth":3}"#)
        #expect(cache.encoded(events[1]) == nil)
    }

    /// The cache holds at most its byte budget whatever the PDUs' size (members may pad their leaves
    /// to the 64 KiB body limit), oldest out first, and at most its entry count; one entry larger
    /// than the budget is still kept (it is the one being sent).
    @Test func theEncodedPDUCacheKeepsToItsByteBudget() {
        let padded = "{\"pad\":\"" + String(repeating: "x", count: 60_000) + "\"}"
        let budget = 200_000
        let cache = EncodedPDUCache(maximumEntries: 1_000, maximumBytes: budget)
        for position in 1...10 {
            let event = ForwardedEvent(roomID: "!r", eventID: "$big\(position)", streamPosition: Int64(position), pdu: Array(padded.utf8))
            #expect(cache.encoded(event) == event.pdu.flatMap(FederationTransaction.encode))
            #expect(cache.held.bytes <= budget)
        }
        #expect(cache.held.entries == 3, "three 60 kB PDUs fit in 200 kB")
        // The newest stay: asking for one of them again does not add an entry.
        let newest = ForwardedEvent(roomID: "!r", eventID: "$big10", streamPosition: 10, pdu: Array(padded.utf8))
        _ = cache.encoded(newest)
        #expect(cache.held.entries == 3)

        let small = EncodedPDUCache(maximumEntries: 5, maximumBytes: budget)
        for position in 1...20 {
            _ = small.encoded(ForwardedEvent(roomID: "!r", eventID: "$s\(position)", streamPosition: Int64(position), pdu: Array("{}".utf8)))
        }
        #expect(small.held.entries == 5)

        let tiny = EncodedPDUCache(maximumEntries: 10, maximumBytes: 1_000)
        for position in 1...3 {
            _ = tiny.encoded(ForwardedEvent(roomID: "!r", eventID: "$t\(position)", streamPosition: Int64(position), pdu: Array(padded.utf8)))
            #expect(tiny.held.entries == 1, "one entry over the budget is kept, alone")
        }
    }

    /// What a claim may leave out: the held PDUs just after a batch that a transaction can carry
    /// (not the undeliverable ones, not beyond the span, at most the limit), with their event IDs.
    @Test func theCacheHandsOutTheEncodingsItHoldsAfterAPosition() {
        let cache = EncodedPDUCache()
        for position in [3, 4, 6, 9, 20] as [Int64] {
            _ = cache.encoded(ForwardedEvent(roomID: "!r", eventID: "$e\(position)", streamPosition: position, pdu: Array("{ }".utf8)))
        }
        _ = cache.encoded(ForwardedEvent(roomID: "!r", eventID: "$f5", streamPosition: 5, pdu: Array(#"{"d":1.5}"#.utf8)))
        let held = cache.heldEncodings(after: 2, within: 10, limit: 50)
        #expect(held.map(\.position) == [3, 4, 6, 9])
        #expect(held[1].eventID == "$e4")
        #expect(held[1].pdu == Array("{}".utf8), "as encoded")
        #expect(cache.heldEncodings(after: 3, within: 3, limit: 50).map(\.position) == [4, 6])
        #expect(cache.heldEncodings(after: 2, within: 10, limit: 2).map(\.position) == [3, 4])
        #expect(cache.heldEncodings(after: .max - 1, within: 10, limit: 50).isEmpty)
        #expect(cache.encoded(ForwardedEvent(roomID: "!r", eventID: "$e7", streamPosition: 7, pdu: nil)) == nil)
    }

    @Test func pdusThatCannotBeSignedAreSetApartNotSent() throws {
        let good = #"{"type":"m.room.member","depth":1}"#
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1, deliveries: [
            delivery("$beyond64", pdu: #"{"type":"m.room.member","content":{"n":18446744073709551616}}"#),
            delivery("$good", pdu: good),
            delivery("$float", pdu: #"{"depth":1.5}"#),
            delivery("$array", pdu: "[1]"),
            delivery("$broken", pdu: "{\"depth\":"),
        ])
        #expect(transaction.deliveries.map(\.eventID) == ["$good"])
        #expect(transaction.undeliverable.map(\.eventID) == ["$beyond64", "$float", "$array", "$broken"])
        let body = try JSONParser.parse(transaction.body)
        #expect(body["pdus"]?.arrayValue?.count == 1)
        #expect((try? body.canonicalBytes()) != nil)
    }

    /// Room versions 1–5 allow any 64-bit integer: such PDUs are sent, numbers exact, and the
    /// X-Matrix signature covers them in plain decimal.
    @Test(arguments: [Int64(0), -1, 9_007_199_254_740_991, 9_007_199_254_740_992, .max, .min])
    func pdusWith64BitIntegersAreSentExactly(_ number: Int64) throws {
        let pdu = #"{"type":"m.room.member","depth":9223372036854775807,"content":{"n":\#(number)}}"#
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1,
                                                deliveries: [delivery("$old-room", pdu: pdu)])
        #expect(transaction.deliveries.map(\.eventID) == ["$old-room"])
        #expect(transaction.undeliverable.isEmpty)
        let sent = try #require(try JSONParser.parse(transaction.body)["pdus"]?.arrayValue?.first)
        #expect(sent["depth"] == .integer(.max))
        #expect(sent["content"]?["n"] == .integer(number))
        let signed = XMatrixRequest.signingBytes(method: "PUT", uri: "/_matrix/federation/v1/send/1", origin: "resident.test",
                                                 destination: "b.test", encodedContent: transaction.body)
        let text = String(decoding: signed, as: UTF8.self)
        #expect(text.contains(#""depth":9223372036854775807"#) && text.contains(#""n":\#(number)"#), "\(text)")
    }

    @Test func allUndeliverableLeavesNothingToSend() {
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1,
                                                deliveries: [delivery("$x", pdu: "not json")])
        #expect(transaction.isEmpty)
        #expect((try? JSONParser.parse(transaction.body))?["pdus"] == .array([]))
    }

    @Test func rejectedPDUsAreReadFromTheAnswer() {
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1, deliveries: [
            delivery("$ok", pdu: #"{"a":1}"#), delivery("$bad", pdu: #"{"a":2}"#), delivery("$odd", pdu: #"{"a":3}"#),
            delivery("$long", pdu: #"{"a":4}"#),
        ])
        let long = String(repeating: "e\u{301}", count: 200)   // 3 bytes a character, 2 scalars
        let answer = JSONValue.object(["pdus": [
            "$ok": [:], "$bad": ["error": "not allowed"], "$odd": ["error": 5], "$long": ["error": .string(long)],
            "$not-sent": ["error": "made up"], "$BAD": ["error": "made up"],
        ]]).compactBytes()
        let rejected = transaction.rejectedPDUs(inResponse: answer)
        #expect(rejected.map(\.eventID) == ["$bad", "$long"])
        #expect(rejected.first?.error == "not allowed")
        let clipped = rejected.last?.error ?? ""
        #expect(clipped.utf8.count <= FederationTransaction.maximumErrorBytes && clipped.utf8.count > 190)
        #expect(long.unicodeScalars.starts(with: clipped.unicodeScalars))
        #expect(transaction.rejectedPDUs(inResponse: Array("<html>".utf8)).isEmpty)
        #expect(transaction.rejectedPDUs(inResponse: Array("{}".utf8)).isEmpty)
    }

    /// A destination answering every transaction with a made-up error per event it never got
    /// yields no more rejections than PDUs were sent.
    @Test func aMadeUpErrorMapYieldsNoMoreRejectionsThanPDUsSent() {
        let transaction = FederationTransaction(origin: "resident.test", originServerTS: 1,
                                                deliveries: (0..<3).map { delivery("$e\($0)", pdu: #"{"a":1}"#) })
        var results = JSONObject()
        for index in 0..<10_000 { results["$e\(index)"] = ["error": "no"] }
        let rejected = transaction.rejectedPDUs(inResponse: JSONValue.object(["pdus": .object(results)]).compactBytes())
        #expect(rejected.map(\.eventID) == ["$e0", "$e1", "$e2"])
    }

    @Test func transactionIDsFollowTheBatchesPositionsAndNeedNoEscaping() {
        func batch(after: Int64, last: Int64?, through: Int64) -> ForwardingBatch {
            ForwardingBatch(destination: "b.test", owner: "o", after: after,
                            events: last.map { [ForwardedEvent(roomID: "!r", eventID: "$e", streamPosition: $0, pdu: [])] } ?? [],
                            through: through)
        }
        #expect(batch(after: 7, last: 9, through: 12).transactionID == "7.9")
        #expect(batch(after: 7, last: 9, through: 9).transactionID == batch(after: 7, last: 9, through: 30).transactionID)
        #expect(batch(after: 7, last: 10, through: 10).transactionID != batch(after: 7, last: 9, through: 9).transactionID)
        #expect(batch(after: 9, last: 12, through: 12).transactionID != batch(after: 7, last: 12, through: 12).transactionID)
        let allowed = Set("0123456789.")
        #expect(batch(after: 0, last: Int64.max, through: 0).transactionID.allSatisfy(allowed.contains))
    }
}
