import NIOCore

/// Frames HTTP/1.1 responses out of the bytes a keep-alive connection receives: the status line,
/// `Content-Length` and `Connection: close` are read, everything else is skipped. The load
/// generator's targets (the worker, HAProxy) answer with a length; any other framing is an error
/// (the connection is then closed), never a guess.
struct ResponseReader {
    /// One whole response.
    struct Response: Equatable {
        var status: Int
        var body: [UInt8]
        /// The server will close the connection after it.
        var closes: Bool
    }

    /// Why the bytes are not a response this reader frames.
    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed
        case unframed

        var description: String {
            switch self {
            case .malformed: "malformed HTTP response"
            case .unframed: "HTTP response without Content-Length"
            }
        }
    }

    /// The longest response head accepted.
    static let maxHeadBytes = 16 << 10
    /// The largest body accepted.
    static let maxBodyBytes = 16 << 20

    private var pending = ByteBuffer()
    /// The head of the response being read, once complete.
    private var head: (status: Int, length: Int, closes: Bool)?

    /// Adds received bytes.
    mutating func append(_ bytes: inout ByteBuffer) {
        if pending.readableBytes == 0 {
            pending = bytes   // the common case: one read holds the whole response
        } else {
            pending.writeBuffer(&bytes)
        }
    }

    /// The next complete response, nil while more bytes are needed.
    mutating func next() throws(Failure) -> Response? {
        if head == nil {
            guard let end = Self.headEnd(pending) else {
                if pending.readableBytes > Self.maxHeadBytes { throw .malformed }
                return nil
            }
            head = try Self.parseHead(pending.readableBytesView.prefix(end))
            pending.moveReaderIndex(forwardBy: end + 4)
        }
        guard let (status, length, closes) = head, pending.readableBytes >= length else { return nil }
        let body = pending.readBytes(length: length) ?? []
        head = nil
        if pending.readableBytes == 0 { pending = ByteBuffer() }
        return Response(status: status, body: body, closes: closes)
    }

    /// The offset of the `\r\n\r\n` ending the head, if it arrived.
    private static func headEnd(_ buffer: ByteBuffer) -> Int? {
        let view = buffer.readableBytesView
        guard view.count >= 4 else { return nil }
        var index = view.startIndex
        while index <= view.endIndex - 4 {
            if view[index] == 13, view[index + 1] == 10, view[index + 2] == 13, view[index + 3] == 10 {
                return index - view.startIndex
            }
            index += 1
        }
        return nil
    }

    private static func parseHead(_ head: ByteBufferView) throws(Failure) -> (Int, Int, Bool) {
        let lines = head.split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        guard let statusLine = lines.first, statusLine.starts(with: "HTTP/1.".utf8), statusLine.count >= 12,
              let status = decimal(statusLine.dropFirst(9).prefix(3)), (100...599).contains(status)
        else { throw .malformed }
        var length: Int?, closes = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed }
            let name = line[..<colon], value = trimmed(line[(colon + 1)...])
            if equalsLowercased(name, "content-length") {
                guard let parsed = decimal(value), length == nil || length == parsed else { throw .malformed }
                length = parsed
            } else if equalsLowercased(name, "transfer-encoding") {
                throw .unframed
            } else if equalsLowercased(name, "connection") {
                closes = equalsLowercased(value, "close")
            }
        }
        if status == 204 || status == 304 { return (status, 0, closes) }
        guard let length else { throw .unframed }
        guard length <= maxBodyBytes else { throw .malformed }
        return (status, length, closes)
    }

    private static func decimal<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var value = 0
        for byte in bytes {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func trimmed(_ bytes: ByteBufferView) -> ByteBufferView {
        let isSpace: (UInt8) -> Bool = { $0 == 32 || $0 == 9 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }),
              let last = bytes.lastIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
        return bytes[first...last]
    }

    /// Whether `bytes`, ASCII-lowercased, are `expected` (which is lowercase).
    private static func equalsLowercased<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ expected: String) -> Bool {
        bytes.count == expected.utf8.count
            && zip(bytes, expected.utf8).allSatisfy { (65...90).contains($0) ? $0 + 32 == $1 : $0 == $1 }
    }
}
