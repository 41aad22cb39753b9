import Synchronization

/// Transaction IDs unique across processes and restarts: a receiver answers a repeated
/// `(origin, txnId)` from its cache without looking at the body, so an ID must never be reused.
/// Each generator has a random 64-bit prefix; IDs are `<prefix>.<counter>` (URL-safe as is).
final class TransactionIDs: Sendable {
    private let prefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let counter = Atomic<UInt64>(0)

    func next() -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(prefix).\(number)"
    }
}
