import MatrixCore
import RemoteHomeserver

/// Drives leaves against an `https://` target (an `http://` one has ``EncodedDriver``) through
/// AsyncHTTPClient: `concurrency` tasks take jobs from the queue, each doing make_leave + sign +
/// send_leave (pairs), a single pre-signed send_leave (send-only) or make_leave without signing
/// (make-only), and measure every request.
struct LeaveDriver: Sendable {
    let mode: LoadGenOptions.Mode
    /// A requester per played server, by server name.
    let requesters: [String: FederationRequester]
    let signers: [String: EventSigner]
    let counters: LiveCounters

    func run(queue: JobQueue, concurrency: Int) async -> RunStatistics {
        await withTaskGroup(of: RunStatistics.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var statistics = RunStatistics()
                    while let (job, due) = queue.takeScheduled() {
                        if let due { try? await Task.sleep(until: due, clock: .continuous) }
                        await perform(job, into: &statistics)
                    }
                    return statistics
                }
            }
            var total = RunStatistics()
            for await statistics in group { total.merge(statistics) }
            return total
        }
    }

    private func perform(_ job: LeaveJob, into statistics: inout RunStatistics) async {
        statistics.recordAttempt()
        counters.attempted()
        guard let requester = requesters[job.server], let signer = signers[job.server] else {
            return fail(.sendLeave, status: nil, detail: "no played server \(job.server)", into: &statistics)
        }
        let start = ContinuousClock.now
        let leave: SignedEvent
        if let presigned = job.presigned {
            leave = presigned
        } else {
            let answer: FederationResponse
            do {
                answer = try await requester.makeLeave(roomID: job.roomID, userID: job.userID)
            } catch {
                return fail(.makeLeave, status: nil, detail: Self.describe(error), into: &statistics)
            }
            statistics.record(.makeLeave, microseconds: Self.microseconds(since: start))
            guard answer.status == 200, let body = answer.json else {
                return fail(.makeLeave, status: answer.status, detail: answer.errcode ?? "no errcode", into: &statistics)
            }
            if mode == .makeOnly {
                // A template is this mode's success (the generator does not sign it: it would compete
                // with the worker for the CPU); nothing is sent.
                guard body["event"]?.objectValue != nil, body["room_version"]?.stringValue != nil else {
                    return fail(.makeLeave, status: answer.status, detail: "no template", into: &statistics)
                }
                statistics.recordTemplate()
                return counters.accepted()
            }
            do {
                leave = try signer.signLeave(makeLeaveResponse: body, roomID: job.roomID, userID: job.userID)
            } catch {
                return fail(.makeLeave, status: answer.status, detail: "unusable template: \(error)", into: &statistics)
            }
        }
        let sendStart = ContinuousClock.now
        let answer: FederationResponse
        do {
            if let prepared = job.prepared {
                answer = try await requester.send(prepared)
            } else {
                answer = try await requester.sendLeave(roomID: job.roomID, eventID: leave.eventID, pdu: leave.pdu)
            }
        } catch {
            return fail(.sendLeave, status: nil, detail: Self.describe(error), into: &statistics)
        }
        statistics.record(.sendLeave, microseconds: Self.microseconds(since: sendStart))
        if mode == .pairs { statistics.record(.pair, microseconds: Self.microseconds(since: start)) }
        guard answer.status == 200 else {
            return fail(.sendLeave, status: answer.status, detail: answer.errcode ?? "no errcode", into: &statistics)
        }
        statistics.recordAccepted(AcceptedLeave(roomID: job.roomID, userID: job.userID, eventID: leave.eventID))
        counters.accepted()
    }

    private func fail(_ endpoint: Endpoint, status: Int?, detail: String, into statistics: inout RunStatistics) {
        statistics.recordFailure(FailureKind(endpoint: endpoint, status: status, detail: detail))
        counters.failed()
    }

    static func microseconds(since start: ContinuousClock.Instant) -> UInt64 {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000)
    }

    /// A short, stable description of a transport error (so equal errors group together).
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }
}
