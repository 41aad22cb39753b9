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

    mutating func removeAll() {
        entries.removeAll()
        count = 0
    }
}
