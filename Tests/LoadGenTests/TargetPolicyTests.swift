@testable import LoadGen
import XCTest

/// The generator stays on loopback unless `--allow-remote` is given.
final class TargetPolicyTests: XCTestCase {
    func testLoopbackTargetsAreAccepted() throws {
        for target in ["http://127.0.0.1:8448", "http://127.1.2.3:80/", "http://localhost:8008", "http://[::1]:8448",
                       "https://LOCALHOST"] {
            XCTAssertNoThrow(try TargetPolicy.check(target, allowRemote: false), target)
        }
        XCTAssertEqual(try TargetPolicy.check("http://127.0.0.1:8448/", allowRemote: false), "http://127.0.0.1:8448")
    }

    func testOtherTargetsNeedAllowRemote() throws {
        for target in ["http://10.0.0.1:8448", "http://192.168.1.2", "http://matrix.org", "http://127.0.0.1.evil.test",
                       "http://[::2]:80", "http://128.0.0.1", "http://127.0.0.256"] {
            XCTAssertThrowsError(try TargetPolicy.check(target, allowRemote: false), target) {
                XCTAssertEqual($0 as? LoadGenError, .remoteTargetRefused(target))
            }
            XCTAssertNoThrow(try TargetPolicy.check(target, allowRemote: true), target)
        }
    }

    func testMalformedTargetsAreRefused() {
        for target in ["127.0.0.1:8448", "ftp://127.0.0.1", "http://", "http://user@127.0.0.1", "http://[::1"] {
            XCTAssertThrowsError(try TargetPolicy.check(target, allowRemote: true), target) {
                XCTAssertEqual($0 as? LoadGenError, .invalidTarget(target))
            }
        }
    }
}
