/// One row of a result. Accessors return nil for SQL NULL, for a column index out of range, and
/// for a value that is not of the asked-for kind.
public struct PostgresRow: Sendable {
    let cells: ResultCells
    let row: Int

    public var columnCount: Int { cells.columnCount }

    public func isNull(_ column: Int) -> Bool {
        guard let cell = cell(column) else { return true }
        return cell.length < 0
    }

    /// The value as text (UTF-8; invalid sequences become U+FFFD).
    public func string(_ column: Int) -> String? {
        withValue(column) { String(decoding: $0, as: UTF8.self) }
    }

    /// An integer column (int2/int4/int8/oid, or any value whose text is a decimal Int64).
    public func int64(_ column: Int) -> Int64? {
        withValue(column) { TextFormat.int64($0) } ?? nil
    }

    /// A bytea column's bytes; for any other type, the value's text bytes.
    public func bytes(_ column: Int) -> [UInt8]? {
        withValue(column) { value in
            cells.columnTypes[column] == PostgresTypeOID.bytea ? TextFormat.bytea(value) : Array(value)
        } ?? nil
    }

    public func bool(_ column: Int) -> Bool? {
        withValue(column) { TextFormat.bool($0) } ?? nil
    }

    /// A one-dimensional array of text (text[], varchar[], …) without NULL elements.
    public func stringArray(_ column: Int) -> [String]? {
        withValue(column) { TextFormat.stringArray($0) } ?? nil
    }

    private func cell(_ column: Int) -> ResultCells.Cell? {
        guard column >= 0, column < cells.columnCount else { return nil }
        return cells.cells[row * cells.columnCount + column]
    }

    private func withValue<R>(_ column: Int, _ body: (ArraySlice<UInt8>) -> R) -> R? {
        guard let cell = cell(column), cell.length >= 0 else { return nil }
        return body(cells.bytes[cell.offset..<cell.offset + Int(cell.length)])
    }
}
