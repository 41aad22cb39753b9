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
    /// The request body; `pdus` is empty when every delivery was undeliverable.
    let body: JSONValue

    init(origin: String, originServerTS: Int64, deliveries claimed: [ForwardedEvent]) {
        var deliveries: [ForwardedEvent] = []
        var undeliverable: [ForwardedEvent] = []
        var pdus: [JSONValue] = []
        deliveries.reserveCapacity(claimed.count)
        pdus.reserveCapacity(claimed.count)
        for delivery in claimed {
            if let pdu = try? JSONParser.parse(delivery.pdu), pdu.objectValue != nil, pdu.firstNonInt64Number == nil {
                deliveries.append(delivery)
                pdus.append(pdu)
            } else {
                undeliverable.append(delivery)
            }
        }
        self.deliveries = deliveries
        self.undeliverable = undeliverable
        body = ["origin": .string(origin), "origin_server_ts": .integer(originServerTS), "pdus": .array(pdus)]
    }

    var isEmpty: Bool { deliveries.isEmpty }

    /// The per-PDU errors of a 200 answer (`{"pdus": {event_id: {"error": …}}}`): the destination
    /// took the transaction but refused these events; resending would not change that.
    static func rejectedPDUs(inResponse body: [UInt8]) -> [(eventID: String, error: String)] {
        guard let results = (try? JSONParser.parse(body))?["pdus"]?.objectValue else { return [] }
        return results.members.compactMap { member in
            member.value["error"]?.stringValue.map { (member.key, $0) }
        }
    }
}
