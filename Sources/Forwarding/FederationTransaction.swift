import MatrixCore
import Storage

/// One `PUT /_matrix/federation/v1/send/{txnId}` body built from the events of one claimed batch
/// to one destination: `{"origin", "origin_server_ts", "pdus": [...]}` with the PDUs exactly as stored.
///
/// Accepted ⇒ forwarded: every integer a PDU may carry (in room versions 1–5 up to ±(2^63−1), e.g.
/// `depth`) goes into the body exactly, and the X-Matrix signature covers that exact body — 64-bit
/// integers in plain decimal, as Synapse and gomatrixserverlib write and verify them
/// (``XMatrixRequest/signingBytes(method:uri:origin:destination:content:)``).
///
/// What no signed request can carry — a body that is not a JSON object, a number with a fraction or
/// exponent, an integer beyond 64 bits — `send_leave` never stores: its X-Matrix check of the same
/// body refuses such a request with 400 `M_BAD_JSON` before anything is written. A stored row of
/// that kind (written by other means) is set apart in ``undeliverable`` instead of failing the whole
/// batch for ever (the destination's position passes it like the others).
struct FederationTransaction: Sendable {
    /// The deliveries whose PDUs are in ``body``, in order.
    let deliveries: [ForwardedEvent]
    /// Deliveries that can never be sent (see above).
    let undeliverable: [ForwardedEvent]
    /// The request body, compact JSON with sorted keys (the layout the X-Matrix signature covers:
    /// ``FederationClient/put(_:target:encodedBody:)`` signs these bytes as they are); `pdus` is
    /// empty when every delivery was undeliverable.
    let body: [UInt8]

    /// - Parameter encoded: a delivery's PDU as ``encode(_:)`` writes it (the sender's
    ///   ``EncodedPDUCache``: a PDU due to many destinations is parsed once).
    init(origin: String, originServerTS: Int64, deliveries claimed: [ForwardedEvent],
         encoded: (ForwardedEvent) -> [UInt8]? = { $0.pdu.flatMap(encode) }) {
        var deliveries: [ForwardedEvent] = []
        var undeliverable: [ForwardedEvent] = []
        deliveries.reserveCapacity(claimed.count)
        var body = Array(#"{"origin":"#.utf8)
        body.append(contentsOf: JSONValue.string(origin).compactBytes())
        body.append(contentsOf: #","origin_server_ts":\#(originServerTS),"pdus":["#.utf8)
        for delivery in claimed {
            guard let pdu = encoded(delivery) else {
                undeliverable.append(delivery)
                continue
            }
            if !deliveries.isEmpty { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: pdu)
            deliveries.append(delivery)
        }
        body.append(contentsOf: "]}".utf8)
        self.deliveries = deliveries
        self.undeliverable = undeliverable
        self.body = body
    }

    /// A stored PDU as it goes into a body: its compact bytes (sorted keys, integers in decimal), or
    /// nil when no signed request can carry it (not a JSON object, a number that is not a 64-bit
    /// integer). The PDUs `send_leave` stores are already compact and go as they are
    /// (``JSONCompactForm``); others are parsed and written.
    static func encode(_ pdu: [UInt8]) -> [UInt8]? {
        if JSONCompactForm.isCompact(pdu) { return pdu }
        guard let value = try? JSONParser.parse(pdu), value.objectValue != nil, value.firstNonInt64Number == nil else {
            return nil
        }
        return value.compactBytes()
    }

    var isEmpty: Bool { deliveries.isEmpty }

    /// The per-PDU errors of a 200 answer (`{"pdus": {event_id: {"error": …}}}`): the destination
    /// took the transaction but refused these events; resending would not change that. Only events
    /// of this transaction count (byte for byte), each error clipped to ``maximumErrorBytes``: what
    /// the destination writes cannot make more log lines than PDUs were sent, nor long ones.
    func rejectedPDUs(inResponse body: [UInt8]) -> [(eventID: String, error: String)] {
        guard let results = (try? JSONParser.parse(body))?["pdus"]?.objectValue else { return [] }
        let sent = Set(deliveries.map { ExactString($0.eventID) })
        return results.members.compactMap { member in
            guard sent.contains(ExactString(member.key)), let error = member.value["error"]?.stringValue else { return nil }
            return (member.key, error.clipped(toUTF8Bytes: Self.maximumErrorBytes))
        }
    }

    /// The most UTF-8 bytes of a destination's error text kept for the log.
    static let maximumErrorBytes = 200
}
