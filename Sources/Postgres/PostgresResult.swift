import CLibPQ

/// The rows a statement returned (copied out of libpq, so it outlives the connection) and the
/// number of rows it changed. Values are held in Postgres' text format and decoded on access.
public struct PostgresResult: Sendable {
    /// Name and type of each column.
    public let columns: [PostgresColumn]
    /// The returned rows, in order.
    public let rows: PostgresRows
    /// Rows changed by INSERT/UPDATE/DELETE/MERGE (or returned by SELECT), per the command tag; 0 otherwise.
    public let affectedRows: Int

    public var rowCount: Int { rows.count }

    public subscript(row: Int) -> PostgresRow { rows[row] }

    /// The index of the first column called `name`, if any.
    public func columnIndex(_ name: String) -> Int? {
        columns.firstIndex { $0.name == name }
    }

    /// Copies everything out of `result`; the caller still owns (and clears) it.
    init(copying result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        columns = (0..<Int32(columnCount)).map { column in
            PostgresColumn(name: String(cString: PQfname(result, column)), typeOID: PQftype(result, column))
        }
        var cells: [ResultCells.Cell] = []
        cells.reserveCapacity(rowCount * columnCount)
        var totalBytes = 0
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) != 0 {
                    cells.append(.init(offset: totalBytes, length: -1))
                } else {
                    let length = PQgetlength(result, row, column)
                    cells.append(.init(offset: totalBytes, length: length))
                    totalBytes += Int(length)
                }
            }
        }
        // Never `unsafeUninitializedCapacity: 0`: the standard library then writes the count into the
        // runtime's one shared empty-array storage, a data race between connections' threads
        // (ThreadSanitizer reports it).
        let bytes = totalBytes == 0 ? [] : [UInt8](unsafeUninitializedCapacity: totalBytes) { buffer, initialized in
            var index = 0
            for row in 0..<Int32(rowCount) {
                for column in 0..<Int32(columnCount) {
                    let cell = cells[index]
                    index += 1
                    guard cell.length > 0, let value = PQgetvalue(result, row, column),
                          let destination = buffer.baseAddress else { continue }
                    (destination + cell.offset).initialize(from: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self),
                                                           count: Int(cell.length))
                }
            }
            initialized = totalBytes
        }
        rows = PostgresRows(cells: ResultCells(columnTypes: columns.map(\.typeOID), bytes: bytes, cells: cells))
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }
}

/// A result column: its name and the OID of its type.
public struct PostgresColumn: Sendable, Equatable {
    public let name: String
    public let typeOID: UInt32
}

/// The rows of a `PostgresResult`, as a collection.
public struct PostgresRows: RandomAccessCollection, Sendable {
    let cells: ResultCells

    public var startIndex: Int { 0 }
    public var endIndex: Int { cells.rowCount }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < endIndex, "row index out of range")
        return PostgresRow(cells: cells, row: position)
    }
}

/// All cell bytes of a result in one buffer, row-major.
struct ResultCells: Sendable {
    /// Where a cell's bytes are in `bytes`; `length == -1` is SQL NULL.
    struct Cell: Sendable {
        let offset: Int
        let length: Int32
    }

    let columnTypes: [UInt32]
    let bytes: [UInt8]
    let cells: [Cell]

    var columnCount: Int { columnTypes.count }
    var rowCount: Int { columnTypes.isEmpty ? 0 : cells.count / columnTypes.count }
}
