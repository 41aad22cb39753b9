/// An event ID in one of its three formats, at most 255 bytes: `$opaque:server_name` (room
/// versions 1–2), `$` + the reference hash in standard unpadded base64 (v3), or in URL-safe
/// unpadded base64 (v4+).
public struct EventID: Sendable, BytewiseIdentifier, CustomStringConvertible {
    /// The whole ID, as given.
    public let text: String
    /// The domain after the first `:` (v1/v2 form only).
    public let server: String?

    public init?(_ text: String) {
        guard let form = SigilIdentifier.form(of: text, sigil: UInt8(ascii: "$"), hashAlphabets: [.standard, .urlSafe])
        else { return nil }
        self.text = text
        server = form.server
    }

    public var description: String { text }
}
