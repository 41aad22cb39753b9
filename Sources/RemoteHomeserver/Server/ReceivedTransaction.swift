import MatrixCore

/// A federation transaction (`PUT /_matrix/federation/v1/send/{txnId}`) that a simulated homeserver
/// received, e.g. a leave the worker forwarded on the leaver's behalf.
public struct ReceivedTransaction: Sendable {
    /// The `{txnId}` of the path.
    public let transactionID: String
    /// The sending server as named by its X-Matrix header, if one could be parsed.
    public let origin: String?
    /// Whether the X-Matrix signature verified with a key given to
    /// ``SimulatedHomeserver/trust(server:keyID:publicKey:)``.
    public let isAuthenticated: Bool
    /// The PDUs of the body (`pdus`), as received.
    public let pdus: [JSONObject]

    public init(transactionID: String, origin: String?, isAuthenticated: Bool, pdus: [JSONObject]) {
        self.transactionID = transactionID
        self.origin = origin
        self.isAuthenticated = isAuthenticated
        self.pdus = pdus
    }
}
