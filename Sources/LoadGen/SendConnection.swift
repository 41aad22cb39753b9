import MatrixCore
import NIOCore

/// One keep-alive connection of an ``EncodedSendDriver`` run: writes a job's encoded send_leave,
/// frames the answer with a ``ResponseReader``, records it, and writes the next job — until the
/// queue is empty (then it closes and ends its slot) or the connection fails (then the run opens a
/// replacement).
final class SendConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let run: SendRun
    private var reader = ResponseReader()
    private var inFlight: (job: LeaveJob, start: ContinuousClock.Instant)?
    private var timer: Scheduled<Void>?
    /// The queue is empty: the connection closes on purpose.
    private var finished = false

    init(run: SendRun) {
        self.run = run
    }

    func channelActive(context: ChannelHandlerContext) {
        sendNext(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        reader.append(&bytes)
        do {
            while let response = try reader.next() {
                guard complete(response, context: context) else { return }
            }
        } catch {
            failInFlight(detail: error.description)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failInFlight(detail: "connection closed")
        if finished { run.slotEnded() } else { run.connect() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failInFlight(detail: LeaveDriver.describe(error))
        context.close(promise: nil)
    }

    private func sendNext(context: ChannelHandlerContext) {
        guard let (job, due) = run.queue.takeScheduled() else {
            finished = true
            context.close(promise: nil)
            return
        }
        let wait = due.map { $0 - ContinuousClock.now } ?? .zero
        if wait > .zero {
            let (seconds, attoseconds) = wait.components
            let delay = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.send(job, context: context) }
        } else {
            send(job, context: context)
        }
    }

    private func send(_ job: LeaveJob, context: ChannelHandlerContext) {
        run.statistics.recordAttempt()
        run.driver.counters.attempted()
        guard let request = job.encoded else { return run.fail(status: nil, detail: "request not encoded") }
        guard context.channel.isActive else { return run.fail(status: nil, detail: "connection closed") }
        inFlight = (job, ContinuousClock.now)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: run.driver.timeout) {
            self.failInFlight(detail: "timed out")
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    /// Records an answer; false when the connection closes instead of going on.
    private func complete(_ response: ResponseReader.Response, context: ChannelHandlerContext) -> Bool {
        guard let (job, start) = inFlight else {
            context.close(promise: nil)   // an answer nobody asked for: the framing is lost
            return false
        }
        inFlight = nil
        timer?.cancel()
        run.statistics.record(.sendLeave, microseconds: LeaveDriver.microseconds(since: start))
        if response.status == 200, let eventID = job.presigned?.eventID {
            run.statistics.recordAccepted(AcceptedLeave(roomID: job.roomID, userID: job.userID, eventID: eventID))
            run.driver.counters.accepted()
        } else {
            let errcode = response.body.isEmpty ? nil : (try? JSONParser.parse(response.body))?["errcode"]?.stringValue
            run.fail(status: response.status, detail: errcode ?? "no errcode")
        }
        if response.closes {
            context.close(promise: nil)
            return false
        }
        sendNext(context: context)
        return true
    }

    private func failInFlight(detail: String) {
        guard inFlight != nil else { return }
        inFlight = nil
        timer?.cancel()
        run.fail(status: nil, detail: detail)
    }
}
