/// A map of at most `capacity` entries that forgets its least recently used entry when a new one
/// would exceed the bound. Every operation is O(1): the recency order is a doubly linked list kept
/// in an array (a removed slot is filled with the last node). A plain value: callers lock.
/// Inlinable, so that each user gets code specialised to its key and value types: unspecialised,
/// every hash, copy and destroy went through generic metadata (≈ 2.5 % of a make_leave's worker CPU).
public struct BoundedLRU<Key: Hashable, Value> {
    @usableFromInline
    struct Node {
        @usableFromInline let key: Key
        @usableFromInline var value: Value
        @usableFromInline var previous: Int
        @usableFromInline var next: Int

        @inlinable
        init(key: Key, value: Value, previous: Int, next: Int) {
            self.key = key
            self.value = value
            self.previous = previous
            self.next = next
        }
    }

    @usableFromInline var nodes: [Node] = []
    @usableFromInline var slots: [Key: Int] = [:]
    /// Most recently used node, or -1.
    @usableFromInline var head = -1
    /// Least recently used node, or -1.
    @usableFromInline var tail = -1
    public let capacity: Int

    @inlinable
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    @inlinable
    public var count: Int { slots.count }

    /// The value for `key`, which becomes the most recently used.
    @inlinable
    public mutating func value(for key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        moveToFront(slot)
        return nodes[slot].value
    }

    /// The value for `key`, leaving the recency order alone.
    @inlinable
    public func peek(_ key: Key) -> Value? {
        slots[key].map { nodes[$0].value }
    }

    /// Stores `value` as the most recently used entry; returns the entry evicted to make room, if any.
    @inlinable @discardableResult
    public mutating func set(_ value: Value, for key: Key) -> (key: Key, value: Value)? {
        if let slot = slots[key] {
            nodes[slot].value = value
            moveToFront(slot)
            return nil
        }
        let evicted = slots.count >= capacity && tail >= 0 ? removeSlot(tail) : nil
        nodes.append(Node(key: key, value: value, previous: -1, next: -1))
        slots[key] = nodes.count - 1
        pushFront(nodes.count - 1)
        return evicted
    }

    /// Forgets `key`; returns its value.
    @inlinable @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        guard let slot = slots[key] else { return nil }
        return removeSlot(slot).value
    }

    /// Forgets the least recently used entry and returns it; nil when empty.
    @inlinable
    public mutating func removeLeastRecentlyUsed() -> (key: Key, value: Value)? {
        tail >= 0 ? removeSlot(tail) : nil
    }

    /// Forgets everything; returns the values.
    @inlinable
    public mutating func removeAll() -> [Value] {
        defer {
            nodes.removeAll()
            slots.removeAll()
            head = -1
            tail = -1
        }
        return nodes.map(\.value)
    }

    @inlinable
    mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        pushFront(slot)
    }

    @inlinable
    mutating func unlink(_ slot: Int) {
        let previous = nodes[slot].previous, next = nodes[slot].next
        if previous >= 0 { nodes[previous].next = next } else { head = next }
        if next >= 0 { nodes[next].previous = previous } else { tail = previous }
    }

    @inlinable
    mutating func pushFront(_ slot: Int) {
        nodes[slot].previous = -1
        nodes[slot].next = head
        if head >= 0 { nodes[head].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    @inlinable
    mutating func removeSlot(_ slot: Int) -> (key: Key, value: Value) {
        unlink(slot)
        let removed = nodes[slot]
        slots[removed.key] = nil
        let last = nodes.count - 1
        if slot != last {
            let moved = nodes[last]
            nodes[slot] = moved
            slots[moved.key] = slot
            if moved.previous >= 0 { nodes[moved.previous].next = slot } else { head = slot }
            if moved.next >= 0 { nodes[moved.next].previous = slot } else { tail = slot }
        }
        nodes.removeLast()
        return (removed.key, removed.value)
    }
}
