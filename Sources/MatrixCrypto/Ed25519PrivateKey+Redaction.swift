import MatrixCore

/// A private key never shows its secret: string interpolation, `print`, `debugPrint`, `dump` and
/// a logger's metadata see only the public key, so a signing key cannot end up in a log by accident.
extension Ed25519PrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "Ed25519PrivateKey(public: \(Base64.encodeUnpadded(publicKey.bytes)), secret: redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey], displayStyle: .struct) }
}
