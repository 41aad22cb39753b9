#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MatrixCore

/// The identifier parsers on the input as text: whatever they accept is at most 255 bytes, made
/// of the parts they report (byte for byte), with a valid server name; the current user-ID grammar
/// is a subset of the historical one; every address the C library's `inet_pton` reads as IPv4 or
/// (bracketed) IPv6 is a server name that is an IP literal.
enum IdentifierProperties {
    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        let text = String(decoding: input, as: UTF8.self)
        try checkServerName(text)
        try checkUserID(text)
        if let room = RoomID(text) { try checkSigilled(text, sigil: "!", server: room.server) }
        if let event = EventID(text) { try checkSigilled(text, sigil: "$", server: event.server) }
        try checkAgainstInetPton(text)
    }

    private static func checkServerName(_ text: String) throws(PropertyViolation) {
        guard let name = ServerName(text) else { return }
        let bytes = Array(text.utf8)
        try PropertyViolation.expect(bytes.count <= 255 && name.text.utf8.elementsEqual(bytes), "server name text \(text.debugDescription)")
        try PropertyViolation.expect(bytes.starts(with: name.host.utf8), "host \(name.host.debugDescription) of \(text.debugDescription)")
        let rest = bytes.dropFirst(name.host.utf8.count)
        if let port = name.port {
            try PropertyViolation.expect(
                (1...65535).contains(port) && rest.first == UInt8(ascii: ":")
                    && Int(String(decoding: rest.dropFirst(), as: UTF8.self)) == port,
                "port \(port) of \(text.debugDescription)")
        } else {
            try PropertyViolation.expect(rest.isEmpty, "no port but text after host in \(text.debugDescription)")
        }
        if name.host.utf8.first == UInt8(ascii: "[") {
            try PropertyViolation.expect(name.isIPLiteral && name.host.utf8.last == UInt8(ascii: "]"), "bracketed host \(text.debugDescription)")
        }
    }

    private static func checkUserID(_ text: String) throws(PropertyViolation) {
        let current = UserID(text, historical: false)
        guard let user = UserID(text) else {
            try PropertyViolation.expect(current == nil, "current grammar accepts what the historical refuses: \(text.debugDescription)")
            return
        }
        let rebuilt = "@" + user.localpart + ":" + user.server
        try PropertyViolation.expect(
            text.utf8.count <= 255 && rebuilt.utf8.elementsEqual(text.utf8) && user.text.utf8.elementsEqual(text.utf8),
            "user ID parts of \(text.debugDescription)")
        try PropertyViolation.expect(
            !user.localpart.utf8.contains(0) && !user.localpart.utf8.contains(UInt8(ascii: ":")),
            "NUL or ':' in localpart of \(text.debugDescription)")
        try PropertyViolation.expect(ServerName(user.server) != nil, "user ID server of \(text.debugDescription)")
    }

    private static func checkSigilled(_ text: String, sigil: String, server: String?) throws(PropertyViolation) {
        let bytes = Array(text.utf8)
        try PropertyViolation.expect(bytes.count <= 255 && bytes.starts(with: sigil.utf8), "\(sigil)-ID \(text.debugDescription)")
        if let server {
            try PropertyViolation.expect(
                ServerName(server) != nil && bytes.count > server.utf8.count + 2
                    && bytes.suffix(server.utf8.count + 1).elementsEqual((":" + server).utf8)
                    && !bytes.dropFirst().prefix(bytes.count - server.utf8.count - 2).contains(UInt8(ascii: ":")),
                "\(sigil)-ID server of \(text.debugDescription)")
        } else {
            try PropertyViolation.expect(bytes.count == 44, "\(sigil)-ID hash form of \(text.debugDescription)")
        }
    }

    /// An independent oracle for IP literals: the C library's `inet_pton`.
    private static func checkAgainstInetPton(_ text: String) throws(PropertyViolation) {
        guard !text.utf8.contains(0) else { return }
        var address = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &address) == 1 {
            try PropertyViolation.expect(ServerName(text)?.isIPLiteral == true, "IPv4 \(text.debugDescription) refused")
        }
        if inet_pton(AF_INET6, text, &address) == 1 {
            try PropertyViolation.expect(ServerName("[" + text + "]")?.isIPLiteral == true, "IPv6 [\(text)] refused")
        }
    }
}
