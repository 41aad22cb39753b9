import MatrixCrypto
import XCTest

/// The `validity_examples` of `Tests/Vectors/keys.json` and the 7-day cap.
final class KeyValidityTests: XCTestCase {
    func testEveryValidityExample() throws {
        let examples = try VectorFile.objects("validity_examples", in: try VectorFile.load("keys"))
        XCTAssertEqual(examples.count, 5)
        for example in examples {
            let description = try VectorFile.string("description", in: example)
            let usable = try XCTUnwrap(example["usable"]?.boolValue, description)
            if let requestTS = example["request_ts"]?.integerValue {
                let validUntil = try VectorFile.integer("valid_until_ts", in: example)
                XCTAssertEqual(KeyValidity.isUsable(validUntilTS: validUntil, for: .request(now: requestTS)), usable, description)
            } else if let expiredTS = example["expired_ts"]?.integerValue {
                let originTS = try VectorFile.integer("event_origin_server_ts", in: example)
                XCTAssertEqual(KeyValidity.isUsable(expiredTS: expiredTS, for: .event(originServerTS: originTS,
                                                                                       enforcesKeyValidity: true)),
                               usable, description)
                XCTAssertFalse(KeyValidity.isUsable(expiredTS: expiredTS, for: .request(now: originTS)), description)
            } else if let fetchedAt = example["fetched_at"]?.integerValue {
                let validUntil = try VectorFile.integer("valid_until_ts", in: example)
                let originTS = try VectorFile.integer("event_origin_server_ts", in: example)
                let effective = KeyValidity.effectiveValidUntil(validUntilTS: validUntil, fetchedAt: fetchedAt)
                XCTAssertEqual(KeyValidity.isUsable(validUntilTS: effective,
                                                    for: .event(originServerTS: originTS, enforcesKeyValidity: true)),
                               usable, description)
                XCTAssertTrue(KeyValidity.isUsable(validUntilTS: validUntil,
                                                   for: .event(originServerTS: originTS, enforcesKeyValidity: true)),
                              "without the cap it would be usable (Synapse): \(description)")
            } else {
                let validUntil = try VectorFile.integer("valid_until_ts", in: example)
                let originTS = try VectorFile.integer("event_origin_server_ts", in: example)
                XCTAssertEqual(KeyValidity.isUsable(validUntilTS: validUntil,
                                                    for: .event(originServerTS: originTS, enforcesKeyValidity: false)),
                               usable, description)
                XCTAssertFalse(KeyValidity.isUsable(validUntilTS: validUntil,
                                                    for: .event(originServerTS: originTS, enforcesKeyValidity: true)),
                               description)
            }
        }
    }

    func testSevenDayCapBoundaries() {
        let week = KeyValidity.maximumValidityPeriod
        XCTAssertEqual(week, 604_800_000)
        XCTAssertEqual(KeyValidity.effectiveValidUntil(validUntilTS: 10 + week + 1, fetchedAt: 10), 10 + week)
        XCTAssertEqual(KeyValidity.effectiveValidUntil(validUntilTS: 10 + week - 1, fetchedAt: 10), 10 + week - 1)
        XCTAssertEqual(KeyValidity.effectiveValidUntil(validUntilTS: .max, fetchedAt: .max - 1), .max)
        XCTAssertTrue(KeyValidity.isUsable(validUntilTS: 5, for: .request(now: 5)))
        XCTAssertFalse(KeyValidity.isUsable(validUntilTS: 5, for: .request(now: 6)))
        XCTAssertTrue(KeyValidity.isUsable(expiredTS: 5, for: .event(originServerTS: 5, enforcesKeyValidity: true)))
        XCTAssertFalse(KeyValidity.isUsable(expiredTS: 5, for: .event(originServerTS: 6, enforcesKeyValidity: true)))
        XCTAssertTrue(KeyValidity.isUsable(expiredTS: 5, for: .event(originServerTS: 6, enforcesKeyValidity: false)))
    }

    /// The cap and the usability rules at 0, −1, 2^53−1, 2^53, 2^63−1 and −2^63 for every input:
    /// the exact result (computed here in 128 bits), never an overflow.
    func testTheCapAndUsabilityAtTheLimits() {
        let limits: [Int64] = [0, -1, 9_007_199_254_740_991, 9_007_199_254_740_992, .max, .min]
        let week = Int128(KeyValidity.maximumValidityPeriod)
        for validUntil in limits {
            for fetchedAt in limits {
                let expected = Int64(clamping: min(Int128(validUntil), Int128(fetchedAt) + week))
                XCTAssertEqual(KeyValidity.effectiveValidUntil(validUntilTS: validUntil, fetchedAt: fetchedAt), expected,
                               "valid_until_ts \(validUntil), fetched at \(fetchedAt)")
            }
            for other in limits {
                XCTAssertEqual(KeyValidity.isUsable(validUntilTS: validUntil, for: .request(now: other)), validUntil >= other)
                XCTAssertEqual(KeyValidity.isUsable(validUntilTS: validUntil, for: .event(originServerTS: other, enforcesKeyValidity: true)),
                               validUntil >= other)
                XCTAssertTrue(KeyValidity.isUsable(validUntilTS: validUntil, for: .event(originServerTS: other, enforcesKeyValidity: false)))
                XCTAssertEqual(KeyValidity.isUsable(expiredTS: validUntil, for: .event(originServerTS: other, enforcesKeyValidity: true)),
                               other <= validUntil)
                XCTAssertFalse(KeyValidity.isUsable(expiredTS: validUntil, for: .request(now: other)))
            }
        }
    }
}
