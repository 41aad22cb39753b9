import NIOCore

/// One keep-alive connection of an ``EncodedDriver`` run: writes a job's encoded request, frames
/// the answer with a ``ResponseReader``, hands it to the run (which records it and, for a pair's
/// make_leave, returns the send_leave to write next), and goes on with the next job — until the
/// queue is empty (then it closes and ends its slot) or the connection fails (then the run opens a
/// replacement, which first writes a pair's send_leave this one could not).
final class EncodedConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The request awaiting its answer.
    private struct InFlight {
        let job: LeaveJob
        let endpoint: Endpoint
        let start: ContinuousClock.Instant
        /// A pair's send_leave: its leave and when its make_leave was written.
        var eventID: String?
        var pairStart: ContinuousClock.Instant?
    }

    private let run: EncodedRun
    private var reader = ResponseReader()
    private var inFlight: InFlight?
    private var timer: Scheduled<Void>?
    /// The queue is empty: the connection closes on purpose.
    private var finished = false
    /// A pair's send_leave still to write: handed over from the previous connection, or to the next
    /// one when the make_leave's answer closes this one.
    private var pending: PendingSend?

    init(run: EncodedRun, resuming pending: PendingSend?) {
        self.run = run
        self.pending = pending
    }

    func channelActive(context: ChannelHandlerContext) {
        if let pending {
            self.pending = nil
            write(pending, context: context)
        } else {
            sendNext(context: context)
        }
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
        if finished { run.slotEnded() } else { run.connect(resuming: pending) }
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
        guard let request = job.encoded else {
            run.fail(run.driver.firstEndpoint, status: nil, detail: "request not encoded")
            // Not recursively: a queue of such jobs would overflow the stack.
            context.eventLoop.assumeIsolated().execute { self.sendNext(context: context) }
            return
        }
        start(InFlight(job: job, endpoint: run.driver.firstEndpoint, start: .now), request, context: context)
    }

    private func write(_ send: PendingSend, context: ChannelHandlerContext) {
        start(InFlight(job: send.job, endpoint: .sendLeave, start: .now, eventID: send.eventID,
                       pairStart: send.pairStart), send.request, context: context)
    }

    private func start(_ request: InFlight, _ bytes: ByteBuffer, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return run.fail(request.endpoint, status: nil, detail: "connection closed") }
        inFlight = request
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: run.driver.timeout) {
            self.failInFlight(detail: "timed out")
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    /// Records an answer; false when the connection closes instead of going on.
    private func complete(_ response: ResponseReader.Response, context: ChannelHandlerContext) -> Bool {
        guard let request = inFlight else {
            context.close(promise: nil)   // an answer nobody asked for: the framing is lost
            return false
        }
        inFlight = nil
        timer?.cancel()
        var next: PendingSend?
        if request.endpoint == .makeLeave {
            next = run.madeLeave(request.job, answer: response, start: request.start)
        } else {
            run.sentLeave(request.job, eventID: request.eventID ?? request.job.presigned?.eventID, answer: response,
                          start: request.start, pairStart: request.pairStart)
        }
        if response.closes {
            pending = next
            context.close(promise: nil)
            return false
        }
        if let next { write(next, context: context) } else { sendNext(context: context) }
        return true
    }

    private func failInFlight(detail: String) {
        guard let request = inFlight else { return }
        inFlight = nil
        timer?.cancel()
        run.fail(request.endpoint, status: nil, detail: detail)
    }
}
