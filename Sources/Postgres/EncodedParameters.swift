import CLibPQ

/// Parameters laid out in one buffer in Postgres' binary wire format, ready for `PQexecPrepared`.
struct EncodedParameters {
    /// The declared type of each parameter (0 = let the server infer it, used for `null`).
    private(set) var types: [Oid] = []
    private var buffer: [UInt8] = []
    /// Start of each parameter in `buffer`, or nil for SQL NULL.
    private var offsets: [Int?] = []
    private var lengths: [Int32] = []

    var count: Int { types.count }

    init(_ values: [PostgresValue]) throws(PostgresError) {
        types.reserveCapacity(values.count)
        offsets.reserveCapacity(values.count)
        lengths.reserveCapacity(values.count)
        for (position, value) in values.enumerated() {
            types.append(value.typeOID)
            guard value != .null else {
                offsets.append(nil)
                lengths.append(0)
                continue
            }
            let start = buffer.count
            Self.appendBinary(value, to: &buffer)
            guard let length = Int32(exactly: buffer.count - start) else {
                throw PostgresError(kind: .query, sqlState: "54000",
                                    message: "parameter $\(position + 1) is larger than 2 GiB")
            }
            offsets.append(start)
            lengths.append(length)
        }
        // A trailing byte keeps the buffer non-empty, so a zero-length value still gets a non-nil pointer.
        buffer.append(0)
    }

    /// Calls `body` with the C arrays `PQexecPrepared` takes: values, lengths, formats (all binary).
    func withCArrays<R>(
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        guard !types.isEmpty else { return body(nil, nil, nil) }
        let formats = [Int32](repeating: 1, count: types.count)
        return buffer.withUnsafeBytes { raw in
            let base = raw.bindMemory(to: CChar.self).baseAddress
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset, let base else { return nil }
                return UnsafePointer(base + offset)
            }
            return body(pointers, lengths, formats)
        }
    }

    private static func appendBinary(_ value: PostgresValue, to buffer: inout [UInt8]) {
        switch value {
        case .null:
            break
        case .text(let text):
            buffer.append(contentsOf: text.utf8)
        case .int(let number):
            appendBigEndian(UInt64(bitPattern: number), to: &buffer)
        case .bytes(let bytes):
            buffer.append(contentsOf: bytes)
        case .bool(let flag):
            buffer.append(flag ? 1 : 0)
        case .textArray(let elements):
            appendArray(of: PostgresTypeOID.text, elements, to: &buffer) { $1.append(contentsOf: $0.utf8) }
        case .int8Array(let elements):
            appendArray(of: PostgresTypeOID.int8, elements, to: &buffer) { appendBigEndian(UInt64(bitPattern: $0), to: &$1) }
        }
    }

    /// The binary array format: ndim, has-null flag, element type, (size, lower bound) per dimension,
    /// then each element as length + bytes (`appendElement` writes an element's bytes in its type's
    /// binary format). An empty array has zero dimensions.
    private static func appendArray<Element>(of elementType: UInt32, _ elements: [Element], to buffer: inout [UInt8],
                                             appendElement: (Element, inout [UInt8]) -> Void) {
        appendBigEndian(UInt32(elements.isEmpty ? 0 : 1), to: &buffer)
        appendBigEndian(UInt32(0), to: &buffer)
        appendBigEndian(elementType, to: &buffer)
        guard !elements.isEmpty else { return }
        appendBigEndian(UInt32(truncatingIfNeeded: elements.count), to: &buffer)
        appendBigEndian(UInt32(1), to: &buffer)
        for element in elements {
            let lengthAt = buffer.count
            appendBigEndian(UInt32(0), to: &buffer)
            appendElement(element, &buffer)
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: buffer.count - lengthAt - 4).bigEndian) { length in
                buffer.replaceSubrange(lengthAt..<lengthAt + 4, with: length)
            }
        }
    }

    private static func appendBigEndian<I: FixedWidthInteger>(_ value: I, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
}
