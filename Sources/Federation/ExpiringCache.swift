import Synchronization

/// A bounded, thread-safe map whose entries expire after a lifetime given when they are stored.
/// When full, expired entries are dropped first, then arbitrary ones.
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let expiresAt: ContinuousClock.Instant
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The stored value, unless missing or expired.
    func value(for key: Key) -> Value? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expiresAt > now else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Stores `value` for `lifetime` from now.
    func set(_ value: Value, for key: Key, lifetime: Duration) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries[key] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt > now }
                while entries.count >= capacity, let victim = entries.keys.first { entries[victim] = nil }
            }
            entries[key] = Entry(value: value, expiresAt: now + lifetime)
        }
    }

    /// Forgets `key`.
    func remove(_ key: Key) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}
