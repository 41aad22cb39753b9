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
}
