import Postgres
import TestSupport
import XCTest

/// Every parameter type goes to the server typed and comes back unchanged.
final class ParameterRoundTripTests: ConnectionTestCase {
    override class var databasePrefix: String { "params" }

    func testTextRoundTripsUnicodeAndEmpty() throws {
        for text in ["", "plain", "ünïcødé ✓ 🏳️‍🌈 \u{10FFFF}", "quote ' and \" and \\ and $1", String(repeating: "x", count: 100_000)] {
            let result = try connection.query("SELECT $1::text, pg_typeof($1)::text", [.text(text)])
            XCTAssertEqual(result[0].string(0), text)
            XCTAssertEqual(result[0].string(1), "text")
        }
    }

    func testTextWithNULIsRefusedByTheServer() throws {
        XCTAssertThrowsError(try connection.query("SELECT $1::text", [.text("a\u{0}b")])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22021")
        }
    }

    func testInt64RoundTripsExtremes() throws {
        for number: Int64 in [0, 1, -1, 42, Int64.max, Int64.min] {
            let result = try connection.query("SELECT $1, pg_typeof($1)::text, $1::text", [.int(number)])
            XCTAssertEqual(result[0].int64(0), number)
            XCTAssertEqual(result[0].string(1), "bigint")
            XCTAssertEqual(result[0].string(2), String(number))
        }
    }

    func testBytesRoundTripWithZeroBytes() throws {
        let samples: [[UInt8]] = [[], [0], [0, 0, 0], Array(0...255), [0xFF, 0x00, 0x5C, 0x78], (0..<70_000).map { UInt8($0 % 251) }]
        for bytes in samples {
            let result = try connection.query("SELECT $1, octet_length($1), pg_typeof($1)::text", [.bytes(bytes)])
            XCTAssertEqual(result[0].bytes(0), bytes)
            XCTAssertEqual(result[0].int64(1), Int64(bytes.count))
            XCTAssertEqual(result[0].string(2), "bytea")
        }
    }

    func testBoolRoundTrips() throws {
        for flag in [true, false] {
            let result = try connection.query("SELECT $1, NOT $1, pg_typeof($1)::text", [.bool(flag)])
            XCTAssertEqual(result[0].bool(0), flag)
            XCTAssertEqual(result[0].bool(1), !flag)
            XCTAssertEqual(result[0].string(2), "boolean")
        }
    }

    func testTextArrayRoundTrips() throws {
        let samples: [[String]] = [[], ["one"], ["a", "b c", "", "NULL", "x,y", "{}", "q\"uote", "back\\slash", "ünï ✓"], ["\"", "\\", "ends\\", "\\\"both\"\\"]]
        for elements in samples {
            let result = try connection.query("SELECT $1, cardinality($1), pg_typeof($1)::text", [.textArray(elements)])
            XCTAssertEqual(result[0].stringArray(0), elements)
            XCTAssertEqual(result[0].int64(1), Int64(elements.count))
            XCTAssertEqual(result[0].string(2), "text[]")
        }
        let unnested = try connection.query("SELECT unnest($1::text[]) ORDER BY 1", [.textArray(["b", "a"])])
        XCTAssertEqual(unnested.rows.map { $0.string(0) }, ["a", "b"])
    }

    func testInt8ArrayRoundTrips() throws {
        let samples: [[Int64]] = [[], [0], [1, -1, .max, .min, 4_294_967_296, 255]]
        for elements in samples {
            let result = try connection.query("SELECT array_to_string($1, ','), cardinality($1), pg_typeof($1)::text", [.int8Array(elements)])
            XCTAssertEqual(result[0].string(0), elements.map(String.init).joined(separator: ","))
            XCTAssertEqual(result[0].int64(1), Int64(elements.count))
            XCTAssertEqual(result[0].string(2), "bigint[]")
        }
        let matched = try connection.query("SELECT x FROM unnest(ARRAY[1, 2, 3]::int8[]) x WHERE x = ANY($1) ORDER BY 1", [.int8Array([3, 1, 7])])
        XCTAssertEqual(matched.rows.map { $0.int64(0) }, [1, 3])
    }

    func testNullIsNullForEveryAccessor() throws {
        let result = try connection.query("SELECT $1::text, $2::int8", [.null, .null])
        XCTAssertEqual(result.rowCount, 1)
        for column in 0..<2 {
            XCTAssertTrue(result[0].isNull(column))
            XCTAssertNil(result[0].string(column))
            XCTAssertNil(result[0].int64(column))
            XCTAssertNil(result[0].bytes(column))
            XCTAssertNil(result[0].bool(column))
        }
        XCTAssertNil(result[0].string(2), "a column past the end reads as nil")
    }

    func testAccessorsReturnNilForValuesOfAnotherKind() throws {
        let row = try connection.query("""
            SELECT 99999999999999999999::numeric, -9223372036854775809::numeric, 'abc', '{a,NULL}'::text[],
                   '{{a},{b}}'::text[], '[0:1]={a,b}'::text[], 'true', '-9223372036854775808'::int8, 42::int4, '{}'::text[]
            """)[0]
        XCTAssertNil(row.int64(0), "above Int64.max")
        XCTAssertNil(row.int64(1), "below Int64.min")
        XCTAssertNil(row.int64(2))
        XCTAssertNil(row.bool(2))
        XCTAssertNil(row.stringArray(2))
        XCTAssertNil(row.stringArray(3), "NULL element")
        XCTAssertNil(row.stringArray(4), "two dimensions")
        XCTAssertNil(row.stringArray(5), "explicit bounds")
        XCTAssertNil(row.bool(6), "bool reads only the server's t/f")
        XCTAssertEqual(row.bytes(2), Array("abc".utf8), "non-bytea columns give their text bytes")
        XCTAssertEqual(row.int64(7), Int64.min)
        XCTAssertEqual(row.int64(8), 42)
        XCTAssertEqual(row.stringArray(9), [])
    }

    func testStoredRowsComeBackWithColumnsAndAffectedCounts() throws {
        try connection.execute(script: """
            CREATE TABLE items (id int8 PRIMARY KEY, name text NOT NULL, data bytea, flag bool, tags text[]);
            CREATE TABLE other (n int4);
            """)
        let insert = "INSERT INTO items (id, name, data, flag, tags) VALUES ($1, $2, $3, $4, $5)"
        XCTAssertEqual(try connection.query(insert, [.int(1), .text("first"), .bytes([0, 1]), .bool(true), .textArray(["a"])]).affectedRows, 1)
        XCTAssertEqual(try connection.query(insert, [.int(2), .text("second"), .null, .null, .null]).affectedRows, 1)
        XCTAssertEqual(try connection.query("UPDATE items SET flag = $1", [.bool(false)]).affectedRows, 2)

        let result = try connection.query("SELECT id, name, data, flag, tags FROM items ORDER BY id")
        XCTAssertEqual(result.columns.map(\.name), ["id", "name", "data", "flag", "tags"])
        XCTAssertEqual(result.columnIndex("flag"), 3)
        XCTAssertEqual(result.rowCount, 2)
        XCTAssertEqual(result.rows.map { $0.int64(0) }, [1, 2])
        XCTAssertEqual(result[0].string(1), "first")
        XCTAssertEqual(result[0].bytes(2), [0, 1])
        XCTAssertEqual(result[0].stringArray(4), ["a"])
        XCTAssertNil(result[1].bytes(2))
        XCTAssertEqual(result.rows.map { $0.bool(3) }, [false, false])

        let int4 = try connection.query("INSERT INTO other (n) VALUES ($1) RETURNING n", [.int(7)])
        XCTAssertEqual(int4[0].int64(0), 7, "int8 parameters assign to int4 columns")
        XCTAssertEqual(try connection.query("DELETE FROM items WHERE id = $1", [.int(99)]).affectedRows, 0)
    }

    func testTheSameStatementAcceptsNullAndAValue() throws {
        let sql = "SELECT coalesce($1::text, 'was null')"
        XCTAssertEqual(try connection.query(sql, [.null])[0].string(0), "was null")
        XCTAssertEqual(try connection.query(sql, [.text("value")])[0].string(0), "value")
    }
}
