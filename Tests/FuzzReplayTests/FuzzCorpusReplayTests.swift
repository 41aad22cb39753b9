import Foundation
import FuzzProperties
import XCTest

/// Every input of `Fuzz/corpus/<target>/` (the seeds and any crash reproducers) run through the
/// properties the libFuzzer targets check, so the suite covers them without the fuzzer toolchain.
final class FuzzCorpusReplayTests: XCTestCase {
    private static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus").standardizedFileURL

    func testEveryCorpusInputKeepsItsTargetsProperties() throws {
        for target in FuzzTarget.allCases {
            let directory = Self.corpus.appendingPathComponent(target.rawValue)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            XCTAssertGreaterThan(names.count, 10, "corpus of \(target.rawValue)")
            for name in names {
                let input = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
                do {
                    try target.check(input)
                } catch {
                    XCTFail("\(target.rawValue)/\(name): \(error)")
                }
            }
        }
    }

}
