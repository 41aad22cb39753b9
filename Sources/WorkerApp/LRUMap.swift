/// A map of at most `capacity` entries that forgets the least recently used entry to make room
/// for a new one. Lookups, updates and evictions are O(1): the entries form a doubly linked list
/// (newest to oldest) threaded through one array, indexed by a dictionary.
struct LRUMap<Key: Hashable, Value> {
    private struct Entry {
        var key: Key
        var value: Value
        var newer: Int
        var older: Int
    }

    let capacity: Int
    private var positions: [Key: Int] = [:]
    private var entries: [Entry] = []
    private var newest = -1
    private var oldest = -1

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { positions.count }

    /// The value for `key`, which becomes the most recently used entry.
    mutating func value(for key: Key) -> Value? {
        guard let position = positions[key] else { return nil }
        makeNewest(position)
        return entries[position].value
    }

    /// Stores `value` for `key` as the most recently used entry; when full, a new key takes the
    /// place of the least recently used one.
    mutating func set(_ value: Value, for key: Key) {
        if let position = positions[key] {
            entries[position].value = value
            makeNewest(position)
            return
        }
        let position: Int
        if entries.count < capacity {
            entries.append(Entry(key: key, value: value, newer: -1, older: -1))
            position = entries.count - 1
        } else {
            position = oldest
            unlink(position)
            positions[entries[position].key] = nil
            entries[position] = Entry(key: key, value: value, newer: -1, older: -1)
        }
        positions[key] = position
        linkAsNewest(position)
    }

    private mutating func makeNewest(_ position: Int) {
        guard position != newest else { return }
        unlink(position)
        linkAsNewest(position)
    }

    private mutating func unlink(_ position: Int) {
        let (newer, older) = (entries[position].newer, entries[position].older)
        if newer >= 0 { entries[newer].older = older } else { newest = older }
        if older >= 0 { entries[older].newer = newer } else { oldest = newer }
    }

    private mutating func linkAsNewest(_ position: Int) {
        entries[position].older = newest
        entries[position].newer = -1
        if newest >= 0 { entries[newest].newer = position } else { oldest = position }
        newest = position
    }
}
