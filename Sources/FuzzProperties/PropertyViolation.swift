/// A property of a fuzz target that an input broke: a bug in the code under test. The libFuzzer
/// entry point turns it into a crash (so the input is saved as a reproducer); the replay test
/// turns it into a test failure.
public struct PropertyViolation: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    /// Throws a violation described by `message` unless `condition` holds.
    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(PropertyViolation) {
        if !condition { throw PropertyViolation(message()) }
    }
}

/// The bytes of `text`, for messages about inputs that are not valid UTF-8.
func quoted(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription
}
