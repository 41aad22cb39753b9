import Foundation
import TestSupport
import Testing
import WorkerApp

/// The one table of variables (``Settings/Variable``), the README's configuration table, the
/// deployment manifests (every `*.yaml` under `deploy/`, at any depth) and the binary's flags agree.
struct ConfigurationAgreementTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let known = Set(Settings.Variable.allCases.map(\.rawValue))
    /// Names the manifests use that are not the worker's: compose's host-side interpolation.
    static let hostSide: Set<String> = ["LEAVE_WORKER_SIGNING_KEY_FILE"]

    /// `LEAVE_WORKER_*` names in `text`.
    static func variables(in text: Substring) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "LEAVE_WORKER_[A-Z0-9_]*[A-Z0-9]")
        let string = String(text)
        return Set(pattern.matches(in: string, range: NSRange(string.startIndex..., in: string)).compactMap { match in
            Range(match.range, in: string).map { String(string[$0]) }
        })
    }

    @Test func theReadmeTableListsExactlyTheVariables() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "\n## Configuration\n"))
        let rest = readme[start.upperBound...]
        let section = rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)]
        // The first cell of each table row names one variable.
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `LEAVE_WORKER_") }
        let listed = rows.map { row in Self.variables(in: row.split(separator: "|")[0]).sorted() }
        #expect(listed.allSatisfy { $0.count == 1 }, "one variable per row: \(listed.filter { $0.count != 1 })")
        let names = Set(listed.joined())
        #expect(Self.known.subtracting(names).sorted() == [], "variables missing from README.md's table")
        #expect(names.subtracting(Self.known).sorted() == [], "README.md lists variables the worker does not read")
    }

    @Test func theManifestsUseOnlyVariablesTheWorkerReads() throws {
        let deploy = Self.repository.appendingPathComponent("deploy")
        let files = try #require(FileManager.default.enumerator(at: deploy, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "yaml" || $0.pathExtension == "yml" }
        #expect(files.contains { $0.lastPathComponent == "compose.yaml" })
        var used: Set<String> = []
        for file in files {
            let names = Self.variables(in: Substring(try String(contentsOf: file, encoding: .utf8)))
            #expect(names.subtracting(Self.known).subtracting(Self.hostSide).sorted() == [], "\(file.path)")
            used.formUnion(names)
        }
        #expect(used.contains(Settings.Variable.serverName.rawValue))
    }

    @Test(arguments: ["serve", "migrate", "rooms import", "loadgen"])
    func everyVariableHasItsFlag(command: String) throws {
        let help = try WorkerProcess.run(command.split(separator: " ").map(String.init) + ["--help"], environment: [:])
        #expect(help.status == 0)
        for variable in Settings.Variable.allCases {
            #expect(help.stdout.contains("--\(variable.flag) "), "\(command): --\(variable.flag)")
        }
    }
}
