@testable import MatrixCore
import TestSupport
import XCTest

/// Server ACL evaluation: every case of acl.json, plus the no-ACL and glob corner cases.
final class ServerACLTests: XCTestCase {
    func testEveryVectorCase() throws {
        guard case .object(let file) = try JSONParser.parse(try Vectors.bytes("acl")),
            let cases = file["cases"]?.arrayValue
        else { return XCTFail("acl.json has no cases") }
        var checked = 0
        for acl in cases {
            let content = try XCTUnwrap(acl["content"]?.objectValue)
            let description = acl["description"]?.stringValue ?? ""
            for result in acl["results"]?.arrayValue ?? [] {
                let origin = try XCTUnwrap(result["origin"]?.stringValue)
                let expected = try XCTUnwrap(result["allowed"]?.boolValue)
                XCTAssertEqual(ServerACL.allows(origin, aclContent: content), expected, "\(description): \(origin)")
                let host = try XCTUnwrap(result["host_checked"]?.stringValue)
                XCTAssertEqual(ServerACL.allows(host, aclContent: content), expected, "\(description): \(host)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 43)
    }

    /// One event's rules evaluate each server once and remember the verdict — by the name's
    /// bytes (KELVIN SIGN is not `K`), bounded, and every vector case still answered the same.
    func testRulesRememberVerdictsByTheNamesBytes() throws {
        let rules = ServerACL.Rules(content: ["allow": ["*"], "deny": ["k.org", "evil.*"]])
        for round in 0..<2 {
            XCTAssertFalse(rules.allows("k.org"), "round \(round)")
            XCTAssertTrue(rules.allows("\u{212A}.org"), "round \(round)")
            for index in 0..<(2 * ServerACL.Rules.rememberedVerdicts) {
                XCTAssertFalse(rules.allows("evil.\(index)"))
                XCTAssertTrue(rules.allows("fine\(index).org"))
            }
        }
        guard case .object(let file) = try JSONParser.parse(try Vectors.bytes("acl")),
            let cases = file["cases"]?.arrayValue
        else { return XCTFail("acl.json has no cases") }
        for acl in cases {
            let rules = ServerACL.Rules(content: try XCTUnwrap(acl["content"]?.objectValue))
            for _ in 0..<2 {
                for result in acl["results"]?.arrayValue ?? [] {
                    let origin = try XCTUnwrap(result["origin"]?.stringValue)
                    XCTAssertEqual(rules.allows(origin), try XCTUnwrap(result["allowed"]?.boolValue), origin)
                }
            }
        }
    }

    /// A verdict depends on the host without its port, ASCII letters lowered: names differing only
    /// there are one remembered verdict (each was evaluated apart — ≈ 20 ms against a 64 KiB ACL).
    func testNamesDifferingOnlyInPortOrASCIICaseShareOneVerdict() {
        let rules = ServerACL.Rules(content: ["allow": ["*"], "deny": ["evil.example"]])
        for port in 1...100 {
            XCTAssertFalse(rules.allows("evil.example:\(port)"))
            XCTAssertFalse(rules.allows("EVIL.example:\(port)"))
        }
        XCTAssertFalse(rules.allows("evil.example"))
        XCTAssertEqual(rules.rememberedCount, 1)
        XCTAssertTrue(rules.allows("\u{212A}evil.example:1"))
        XCTAssertEqual(rules.rememberedCount, 2)
    }

    func testNoACLEventAllowsEveryServer() {
        for server in ["remote.test", "1.2.3.4", "[::1]:8448", "evil.test"] {
            XCTAssertTrue(ServerACL.allows(server, aclContent: nil))
        }
    }

    func testGlobsMatchTheWholeNameWithStarsAnywhere() {
        let acl: JSONObject = ["allow": ["*.example.*", "a*b*c", "*"], "deny": ["*evil*", "x?z"]]
        XCTAssertTrue(ServerACL.allows("m.example.org", aclContent: acl))
        XCTAssertFalse(ServerACL.allows("not-evil-at-all.org", aclContent: acl))
        XCTAssertFalse(ServerACL.allows("xyz", aclContent: acl))
        XCTAssertTrue(ServerACL.allows("xyyz", aclContent: acl))
        let strict: JSONObject = ["allow": ["a*b*c"]]
        XCTAssertTrue(ServerACL.allows("abc", aclContent: strict))
        XCTAssertTrue(ServerACL.allows("axxbyyc", aclContent: strict))
        XCTAssertFalse(ServerACL.allows("axxbyycd", aclContent: strict))
        XCTAssertFalse(ServerACL.allows("ac", aclContent: strict))
    }

    func testIPLiteralsOnlyWhenTheyAreDottedQuadsOrBracketed() {
        let acl: JSONObject = ["allow": ["*"], "allow_ip_literals": false]
        XCTAssertFalse(ServerACL.allows("10.0.0.1:8448", aclContent: acl))
        XCTAssertFalse(ServerACL.allows("[fe80::1]", aclContent: acl))
        XCTAssertTrue(ServerACL.allows("1.2.3.4.example", aclContent: acl))
        XCTAssertTrue(ServerACL.allows("256.1.1.1", aclContent: acl))
    }
}
