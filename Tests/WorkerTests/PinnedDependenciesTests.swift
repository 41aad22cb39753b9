import Foundation
import Testing

/// The build used exactly the dependency versions pinned in the committed Package.resolved:
/// every package Package.swift names is pinned, and every package checked out in .build is the
/// pinned revision (scripts/test.sh also fails when resolving would rewrite Package.resolved).
@Suite struct PinnedDependenciesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// identity → revision, from Package.resolved's `pins` or workspace-state.json's `dependencies`.
    func revisions(_ file: String, list: String, state: (([String: Any]) -> [String: Any]?)) throws -> [String: String] {
        let data = try Data(contentsOf: Self.repository.appendingPathComponent(file))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let container = (root["object"] as? [String: Any]) ?? root
        let entries = try #require(container[list] as? [[String: Any]], "\(file) has no \(list)")
        var result: [String: String] = [:]
        for entry in entries {
            let identity = (entry["identity"] as? String) ?? ((entry["packageRef"] as? [String: Any])?["identity"] as? String)
            if let identity, let revision = state(entry)?["revision"] as? String { result[identity] = revision }
        }
        return result
    }

    @Test func buildUsesThePinnedVersions() throws {
        let pins = try revisions("Package.resolved", list: "pins") { $0["state"] as? [String: Any] }
        let checkedOut = try revisions(".build/workspace-state.json", list: "dependencies") {
            ($0["state"] as? [String: Any])?["checkoutState"] as? [String: Any]
        }
        let manifest = try String(contentsOf: Self.repository.appendingPathComponent("Package.swift"), encoding: .utf8)
        let named = manifest.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: #"\.package\(url: "[^"]+""#, options: .regularExpression) else { return nil }
            let url = line[range].split(separator: "\"")[1]
            return url.split(separator: "/").last.map { String($0).lowercased().replacingOccurrences(of: ".git", with: "") }
        }
        #expect(named.count >= 5, "no dependencies found in Package.swift")
        for identity in named {
            #expect(pins[identity] != nil, "Package.swift names \(identity), Package.resolved does not pin it")
        }
        #expect(!checkedOut.isEmpty, ".build/workspace-state.json lists no checkouts")
        for (identity, revision) in checkedOut {
            #expect(pins[identity] == revision, "\(identity) is checked out at \(revision), pinned at \(pins[identity] ?? "nothing")")
        }
    }
}
