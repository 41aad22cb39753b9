import MatrixCore
import MatrixCrypto

/// The X-Matrix header parser. The input is split at newlines into header values. Each accepted
/// value has the scheme prefix, a valid origin, and round-trips through the header a sender
/// writes (``XMatrixAuthorization/headerValue``); `parseAll` returns one credential per X-Matrix
/// value, all for one origin, none naming another destination.
enum XMatrixProperties {
    static let serverName = "resident.test"

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        let values = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        for value in values {
            guard let authorization = try? XMatrixAuthorization.parse(value) else { continue }
            try PropertyViolation.expect(value.utf8.starts(with: "X-Matrix".utf8), "accepted without scheme: \(value.debugDescription)")
            try PropertyViolation.expect(ServerName(authorization.origin) != nil, "accepted origin \(authorization.origin.debugDescription)")
            let written = authorization.headerValue
            let reparsed: XMatrixAuthorization
            do { reparsed = try XMatrixAuthorization.parse(written) } catch {
                throw PropertyViolation("written header \(written.debugDescription) does not parse: \(error)")
            }
            try PropertyViolation.expect(
                sameBytes(reparsed, authorization), "header round trip changed \(value.debugDescription)")
        }
        guard let all = try? XMatrixAuthorization.parseAll(headerValues: values, serverName: serverName) else { return }
        let schemed = values.filter { $0.utf8.starts(with: "X-Matrix".utf8) }
        try PropertyViolation.expect(
            !all.isEmpty && all.count == schemed.count, "parseAll returned \(all.count) of \(schemed.count) X-Matrix values")
        for authorization in all {
            try PropertyViolation.expect(
                authorization.origin.utf8.elementsEqual(all[0].origin.utf8), "parseAll mixed origins")
            if let destination = authorization.destination {
                try PropertyViolation.expect(
                    destination.utf8.elementsEqual(serverName.utf8), "parseAll kept destination \(destination.debugDescription)")
            }
        }
    }

    /// Every field equal byte for byte.
    private static func sameBytes(_ a: XMatrixAuthorization, _ b: XMatrixAuthorization) -> Bool {
        a.origin.utf8.elementsEqual(b.origin.utf8) && a.keyID.utf8.elementsEqual(b.keyID.utf8)
            && a.signature.utf8.elementsEqual(b.signature.utf8)
            && (a.destination?.utf8).map { d in (b.destination?.utf8).map { d.elementsEqual($0) } ?? false }
                ?? (b.destination == nil)
    }
}
