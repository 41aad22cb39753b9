import BoundedCollections
import Synchronization

/// A bounded, thread-safe map whose entries expire after a lifetime given when they are stored.
/// When full, the least recently used entry goes (O(1), see ``BoundedLRU``).
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let expiresAt: ContinuousClock.Instant
    }

    private let entries: Mutex<BoundedLRU<Key, Entry>>
    private let now: @Sendable () -> ContinuousClock.Instant

    /// `now`: the monotonic clock lifetimes are measured on (tests pass a manual one).
    init(capacity: Int, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        entries = Mutex(BoundedLRU(capacity: capacity))
        self.now = now
    }

    /// The stored value, unless missing or expired.
    func value(for key: Key) -> Value? {
        let now = now()
        return entries.withLock { entries in
            guard let entry = entries.value(for: key) else { return nil }
            guard entry.expiresAt > now else {
                entries.remove(key)
                return nil
            }
            return entry.value
        }
    }

    /// Stores `value` for `lifetime` from now.
    func set(_ value: Value, for key: Key, lifetime: Duration) {
        let expiresAt = now() + lifetime
        entries.withLock { _ = $0.set(Entry(value: value, expiresAt: expiresAt), for: key) }
    }

    /// Stores `value` for `lifetime` unless an unexpired value is stored; returns whether it stored.
    func setIfAbsent(_ value: Value, for key: Key, lifetime: Duration) -> Bool {
        let now = now()
        return entries.withLock { entries in
            if let entry = entries.peek(key), entry.expiresAt > now { return false }
            entries.set(Entry(value: value, expiresAt: now + lifetime), for: key)
            return true
        }
    }

    /// Forgets `key`.
    func remove(_ key: Key) {
        _ = entries.withLock { $0.remove(key) }
    }

    /// How many entries are held (expired ones included until touched or evicted).
    var count: Int { entries.withLock { $0.count } }
}
