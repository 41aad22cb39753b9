import MatrixCore
import RemoteHomeserver

/// What an ``EncodedRun`` makes of its answers — the same outcomes as ``LeaveDriver``'s: the
/// endpoint, status and errcode of each failure, the latencies, the accepted leaves.
extension EncodedRun {
    /// Records a make_leave answer (its request written at `start`). Returns the send_leave to write
    /// next — pairs mode, a template signed — or nil when the job is over, its outcome recorded.
    func madeLeave(_ job: LeaveJob, answer: ResponseReader.Response, start: ContinuousClock.Instant) -> PendingSend? {
        statistics.record(.makeLeave, microseconds: LeaveDriver.microseconds(since: start))
        guard answer.status == 200, let body = Self.json(answer) else {
            fail(.makeLeave, status: answer.status, detail: Self.errcode(answer) ?? "no errcode")
            return nil
        }
        if driver.mode == .makeOnly {
            // A template is this mode's success (the generator does not sign it: it would compete
            // with the worker for the CPU); nothing is sent.
            guard body["event"]?.objectValue != nil, body["room_version"]?.stringValue != nil else {
                fail(.makeLeave, status: answer.status, detail: "no template")
                return nil
            }
            statistics.recordTemplate()
            driver.counters.accepted()
            return nil
        }
        guard let signer = driver.signers[job.server] else {
            fail(.sendLeave, status: nil, detail: "no played server \(job.server)")
            return nil
        }
        let leave: SignedEvent
        do {
            leave = try signer.signLeave(makeLeaveResponse: body, roomID: job.roomID, userID: job.userID)
        } catch {
            fail(.makeLeave, status: answer.status, detail: "unusable template: \(error)")
            return nil
        }
        do {
            let request = try EncodedRequest.sendLeave(roomID: job.roomID, leave: leave, signer: signer,
                                                       destination: driver.destination, authority: driver.authority)
            return PendingSend(job: job, request: request, eventID: leave.eventID, pairStart: start)
        } catch {
            fail(.sendLeave, status: nil, detail: "unencodable leave: \(error)")
            return nil
        }
    }

    /// Records a send_leave answer of the leave `eventID` (its request written at `start`; a pair's
    /// make_leave at `pairStart`).
    func sentLeave(_ job: LeaveJob, eventID: String?, answer: ResponseReader.Response,
                   start: ContinuousClock.Instant, pairStart: ContinuousClock.Instant?) {
        statistics.record(.sendLeave, microseconds: LeaveDriver.microseconds(since: start))
        if let pairStart { statistics.record(.pair, microseconds: LeaveDriver.microseconds(since: pairStart)) }
        guard answer.status == 200, let eventID else {
            return fail(.sendLeave, status: answer.status, detail: Self.errcode(answer) ?? "no errcode")
        }
        statistics.recordAccepted(AcceptedLeave(roomID: job.roomID, userID: job.userID, eventID: eventID))
        driver.counters.accepted()
    }

    private static func json(_ answer: ResponseReader.Response) -> JSONValue? {
        answer.body.isEmpty ? nil : try? JSONParser.parse(answer.body)
    }

    private static func errcode(_ answer: ResponseReader.Response) -> String? {
        json(answer)?["errcode"]?.stringValue
    }
}
