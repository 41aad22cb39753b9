/// A room ID: `!opaque:server_name` (room versions 1–11) or, in v12, `!` followed by the
/// create event's reference hash in URL-safe unpadded base64. At most 255 bytes.
public struct RoomID: Sendable, BytewiseIdentifier, CustomStringConvertible {
    /// The whole ID, as given.
    public let text: String
    /// The domain after the first `:`; `nil` for the v12 hash form.
    public let server: String?

    public init?(_ text: String) {
        guard let form = SigilIdentifier.form(of: text, sigil: UInt8(ascii: "!"), hashAlphabets: [.urlSafe]) else { return nil }
        self.text = text
        server = form.server
    }

    public var description: String { text }
}
