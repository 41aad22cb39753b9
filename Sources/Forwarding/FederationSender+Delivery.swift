import Federation
import Foundation
import Logging
import MatrixCore
import Storage

extension FederationSender {
    /// Claims and sends batches to `destination` until none is left, a send fails, or the sender
    /// stops. A batch smaller than the limit ends the drain (what arrives later rings a new scan).
    func drain(_ destination: String) async {
        var madeProgress = false
        defer { finishDrain(destination, madeProgress: madeProgress) }
        while !isStopping && !Task.isCancelled {
            let batch: [OutboxDelivery]
            do {
                batch = try await outbox.claim(destination: destination, limit: configuration.batchSize,
                                               lease: configuration.lease)
            } catch {
                logger.warning("forwarding: claim failed", metadata: ["destination": "\(destination)", "error": "\(error)"])
                return
            }
            guard !batch.isEmpty else { return }
            guard await deliver(batch, to: destination) else { return }
            madeProgress = true
            guard batch.count == configuration.batchSize else { return }
        }
    }

    /// Sends one claimed batch as a transaction and records the outcome; true when it was accepted.
    private func deliver(_ batch: [OutboxDelivery], to destination: String) async -> Bool {
        let transaction = FederationTransaction(origin: client.serverName, originServerTS: UnixMilliseconds.now(),
                                                deliveries: batch)
        if !transaction.undeliverable.isEmpty {
            await dropUndeliverable(transaction.undeliverable, destination: destination)
        }
        guard !transaction.isEmpty else { return true }
        let transactionID = transactionIDs.next()
        let started = ContinuousClock.now
        let failure: String
        var answered = false
        do {
            let response = try await client.put(destination, target: "/_matrix/federation/v1/send/\(transactionID)",
                                                 body: transaction.body)
            metrics.sendDuration.record(duration: .now - started)
            if response.status == 200 {
                await record("mark sent", destination: destination) { try await self.outbox.markSent(transaction.deliveries) }
                metrics.delivered.increment(by: transaction.deliveries.count)
                metrics.transactions.increment()
                logRejections(in: response.body, destination: destination)
                logger.debug("forwarded", metadata: [
                    "destination": "\(destination)", "txn_id": "\(transactionID)", "pdus": "\(transaction.deliveries.count)",
                ])
                return true
            }
            answered = true
            failure = "HTTP \(response.status)\(Self.errcode(in: response.body).map { " \($0)" } ?? "")"
        } catch {
            // Cancelled (shutdown): the lease, not a back-off, decides when the batch is tried again.
            guard !Task.isCancelled else { return false }
            failure = error.description
        }
        metrics.recordFailure(answered: answered)
        logger.notice("forwarding failed; backing off", metadata: [
            "destination": "\(destination)", "txn_id": "\(transactionID)", "error": "\(failure)",
        ])
        let backoff = configuration.backoff
        await record("mark failed", destination: destination) {
            try await self.outbox.markFailed(transaction.deliveries, error: failure, backoff: backoff)
        }
        return false
    }

    /// Takes deliveries that can never be sent out of the pending set (counted and logged).
    private func dropUndeliverable(_ deliveries: [OutboxDelivery], destination: String) async {
        metrics.undeliverable.increment(by: deliveries.count)
        for delivery in deliveries {
            logger.error("forwarding: stored PDU cannot be put in a signed transaction; dropped", metadata: [
                "destination": "\(destination)", "event_id": "\(delivery.eventID)", "room_id": "\(delivery.roomID)",
            ])
        }
        await record("drop undeliverable", destination: destination) { try await self.outbox.markSent(deliveries) }
    }

    /// Runs an outbox update, trying three times: a lost update only costs a resend when the lease
    /// ends (sent) or an early retry (failed), but either is worth avoiding.
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

    private func logRejections(in body: [UInt8], destination: String) {
        for rejected in FederationTransaction.rejectedPDUs(inResponse: body) {
            logger.info("destination refused a forwarded PDU", metadata: [
                "destination": "\(destination)", "event_id": "\(rejected.eventID)", "error": "\(rejected.error)",
            ])
        }
    }

    private static func errcode(in body: [UInt8]) -> String? {
        (try? JSONParser.parse(body))?["errcode"]?.stringValue.map { String($0.prefix(64)) }
    }

}
