import Synchronization

/// Short, unique-per-process request IDs for log correlation: a random process prefix and a counter.
final class RequestIDGenerator: Sendable {
    private let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    private let counter = Atomic<UInt64>(0)

    func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-\(String(value, radix: 36))"
    }
}
