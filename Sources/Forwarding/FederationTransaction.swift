import MatrixCore
import Storage

/// One `PUT /_matrix/federation/v1/send/{txnId}` body built from claimed deliveries to one
/// destination: `{"origin", "origin_server_ts", "pdus": [...]}` with the PDUs exactly as stored.
///
/// A stored PDU that cannot go into a signed request — not JSON, or (room versions 1–5 only) an
/// integer beyond ±(2^53−1), which canonical JSON, and so the X-Matrix signature, cannot express —
/// is set apart in ``undeliverable`` instead of failing the whole batch for ever.
struct FederationTransaction: Sendable {
    /// The deliveries whose PDUs are in ``body``, in order.
    let deliveries: [OutboxDelivery]
    /// Deliveries that can never be sent (see above).
    let undeliverable: [OutboxDelivery]
    /// The request body; `pdus` is empty when every delivery was undeliverable.
    let body: JSONValue

    init(origin: String, originServerTS: Int64, deliveries claimed: [OutboxDelivery]) {
        var deliveries: [OutboxDelivery] = []
        var undeliverable: [OutboxDelivery] = []
        var pdus: [JSONValue] = []
        deliveries.reserveCapacity(claimed.count)
        pdus.reserveCapacity(claimed.count)
        for delivery in claimed {
            if let pdu = try? JSONParser.parse(delivery.pdu), pdu.objectValue != nil, pdu.isCanonicalCompatible {
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
