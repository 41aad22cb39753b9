import Federation
import Foundation
import Logging
import MatrixCore
import Storage

extension FederationSender {
    /// What became of a claimed batch's transaction.
    enum DeliveryOutcome {
        /// The destination took it (`delivered`), or nothing in it could be sent: the destination's
        /// position may move past it (``complete(_:delivered:)``).
        case finished(delivered: Bool)
        /// It failed (the back-off is recorded), or the sender was cancelled meanwhile (the lease
        /// decides when it is tried again).
        case unfinished
    }

    /// Sends one claimed batch as a transaction; records a failure, not a success — the caller
    /// moves the position, alone or with its next claim. `held`: the encoded PDUs the claim was
    /// told to leave out, in stream order.
    func deliver(_ batch: ForwardingBatch, held: [EncodedPDUCache.HeldEncoding]) async -> DeliveryOutcome {
        let destination = batch.destination
        let events: [ForwardedEvent]
        do {
            events = try await withPDUs(batch.events, held: held)
        } catch {
            // Not the destination's fault: no back-off; the lease decides when the batch is tried again.
            logger.warning("forwarding: cannot read PDUs", metadata: ["destination": "\(destination)", "error": "\(error)"])
            return .unfinished
        }
        let transaction = FederationTransaction(origin: client.serverName, originServerTS: UnixMilliseconds.now(),
                                                deliveries: events, encoded: encodedPDUs.encoded)
        if !transaction.undeliverable.isEmpty {
            countUndeliverable(transaction.undeliverable, destination: destination)
        }
        guard !transaction.isEmpty else { return .finished(delivered: false) }
        let transactionID = batch.transactionID
        let started = ContinuousClock.now
        let failure: String
        var answered = false
        do {
            // Look-ups on threads of their own: origins anyone can make "known" never hold them.
            let response = try await LookUpThreads.$current.withValue(.destinations) {
                try await client.put(destination, target: "/_matrix/federation/v1/send/\(transactionID)",
                                     encodedBody: transaction.body)
            }
            metrics.sendDuration.record(duration: .now - started)
            if response.status == 200 {
                metrics.delivered.increment(by: transaction.deliveries.count)
                metrics.transactions.increment()
                logRejections(of: transaction, in: response.body, destination: destination)
                logger.debug("forwarded", metadata: [
                    "destination": "\(destination)", "txn_id": "\(transactionID)", "pdus": "\(transaction.deliveries.count)",
                ])
                return .finished(delivered: true)
            }
            answered = true
            failure = "HTTP \(response.status)\(Self.errcode(in: response.body).map { " \($0)" } ?? "")"
        } catch {
            // Cancelled (shutdown): the lease, not a back-off, decides when the batch is tried again.
            guard !Task.isCancelled else { return .unfinished }
            failure = "\(error)"
        }
        metrics.recordFailure(answered: answered)
        logger.notice("forwarding failed; backing off", metadata: [
            "destination": "\(destination)", "txn_id": "\(transactionID)", "error": "\(failure)",
        ])
        let backoff = configuration.backoff
        await record("mark failed", destination: destination) {
            try await self.store.fail(batch, error: failure, backoff: backoff)
        }
        return .unfinished
    }

    /// `events`, each with its PDU: those a claim left out come from `held` (already encoded, which
    /// ``FederationTransaction/encode(_:)`` passes as they are), or — any other, which no claim of
    /// this sender leaves out — from Postgres again.
    /// (`events` and `held` are both in stream order: one walk through each.)
    func withPDUs(_ events: [ForwardedEvent], held: [EncodedPDUCache.HeldEncoding]) async throws -> [ForwardedEvent] {
        guard events.contains(where: { $0.pdu == nil }) else { return events }
        var missing: [Int64] = []
        var next = held.startIndex
        var filled = events.map { event in
            guard event.pdu == nil else { return event }
            while next < held.endIndex, held[next].position < event.streamPosition { next += 1 }
            if next < held.endIndex, held[next].position == event.streamPosition, held[next].eventID.bytesEqual(event.eventID) {
                return event.with(pdu: held[next].pdu)
            }
            missing.append(event.streamPosition)
            return event
        }
        guard !missing.isEmpty else { return filled }
        metrics.pdusReread.increment(by: missing.count)
        let stored = try await store.pdus(at: missing)
        for index in filled.indices where filled[index].pdu == nil {
            guard let found = stored[filled[index].streamPosition], found.eventID.bytesEqual(filled[index].eventID) else {
                throw StorageError.malformedRow("stored PDU of \(filled[index].eventID)")
            }
            filled[index] = filled[index].with(pdu: found.pdu)
        }
        return filled
    }

    /// Moves the destination's position past a finished batch and releases its lease.
    func complete(_ batch: ForwardingBatch, delivered: Bool) async {
        await record(delivered ? "mark sent" : "advance", destination: batch.destination) {
            try await self.store.complete(batch, delivered: delivered)
        }
    }

    /// Events that can never be sent: counted and logged; the destination's position passes them.
    private func countUndeliverable(_ events: [ForwardedEvent], destination: String) {
        metrics.undeliverable.increment(by: events.count)
        for event in events {
            logger.error("forwarding: stored PDU cannot be put in a signed transaction; skipped", metadata: [
                "destination": "\(destination)", "event_id": "\(event.eventID)", "room_id": "\(event.roomID)",
            ])
        }
    }

    /// Runs a position or back-off update, trying three times: a lost update only costs a resend
    /// when the lease ends (sent) or an early retry (failed), but either is worth avoiding.
    private func record(_ what: String, destination: String, _ update: @Sendable () async throws -> Void) async {
        for attempt in 1...3 {
            do {
                try await update()
                return
            } catch {
                if attempt == 3 {
                    logger.error("forwarding: cannot \(what)", metadata: ["destination": "\(destination)", "error": "\(error)"])
                } else {
                    try? await Task.sleep(for: .milliseconds(50 * attempt))
                }
            }
        }
    }

    private func logRejections(of transaction: FederationTransaction, in body: [UInt8], destination: String) {
        for rejected in transaction.rejectedPDUs(inResponse: body) {
            logger.info("destination refused a forwarded PDU", metadata: [
                "destination": "\(destination)", "event_id": "\(rejected.eventID)", "error": "\(rejected.error)",
            ])
        }
    }

    private static func errcode(in body: [UInt8]) -> String? {
        (try? JSONParser.parse(body))?["errcode"]?.stringValue.map { $0.clipped(toUTF8Bytes: 64) }
    }

}
