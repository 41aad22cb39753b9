import Foundation

/// The shared test vectors, copied into `Tests/Vectors/` (facts from an independent
/// implementation; tests never read anything outside the repository).
public enum Vectors {
    /// The directory holding the vector files.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

    /// The raw bytes of `Tests/Vectors/<name>.json`.
    public static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent("\(name).json")))
    }
}
