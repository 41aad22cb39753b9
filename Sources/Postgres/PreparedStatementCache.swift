import CLibPQ

/// The statements prepared on one connection, by SQL text and parameter types. Names are unique
/// per connection ("s1", "s2", …); a fresh connection starts with an empty cache.
struct PreparedStatementCache {
    private struct Entry {
        let types: [Oid]
        let name: String
    }

    /// Beyond this many statements, the whole cache is dropped (and `DEALLOCATE ALL` sent) before
    /// preparing another, so SQL built with a varying shape cannot grow the server's memory forever.
    let capacity: Int
    private var entries: [String: [Entry]] = [:]
    private(set) var count = 0
    private var lastNumber = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func name(for sql: String, types: [Oid]) -> String? {
        entries[sql]?.first { $0.types == types }?.name
    }

    var isFull: Bool { count >= capacity }

    /// A name not yet used on this connection.
    mutating func nextName() -> String {
        lastNumber += 1
        return "s\(lastNumber)"
    }

    mutating func insert(sql: String, types: [Oid], name: String) {
        entries[sql, default: []].append(Entry(types: types, name: name))
        count += 1
    }

    /// Takes the statement for `sql` and `types` out of the lookup, returning its name, so the next
    /// use prepares it afresh. It stays counted until `deallocated()`: the server holds it until
    /// then (or until `DEALLOCATE ALL`), so the capacity still bounds the server's statements.
    mutating func forget(sql: String, types: [Oid]) -> String? {
        guard let index = entries[sql]?.firstIndex(where: { $0.types == types }) else { return nil }
        let name = entries[sql]?.remove(at: index).name
        if entries[sql]?.isEmpty == true { entries[sql] = nil }
        return name
    }

    /// One forgotten statement was deallocated on the server.
    mutating func deallocated() {
        count -= 1
    }

    mutating func removeAll() {
        entries.removeAll()
        count = 0
    }
}
