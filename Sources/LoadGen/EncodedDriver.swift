import NIOCore
import NIOPosix
import RemoteHomeserver

/// The driver for a plain-HTTP target: `concurrency` keep-alive HTTP/1.1 connections, all on one
/// event loop, each writing the next job's encoded request (``EncodedRequest``) as soon as the
/// previous answer is in, and measuring it. Send-only writes the job's send_leave; make-only its
/// make_leave, and checks the template; pairs its make_leave, then signs the template
/// (``EventSigner/signLeave(makeLeaveResponse:roomID:userID:eventID:)``, the same code as
/// ``LeaveDriver``) and writes the send_leave on the same connection. The signing (~60 µs a pair)
/// runs on the event loop: a pair's steps are sequential anyway, and a hop to another thread would
/// cost more than it saves. Per request the generator does one write and one read — no task switch,
/// no request object, no header encoding for make_leave — so its CPU per leave stays small next to
/// the target's. A connection the server closes (or that times out) is replaced; the request it
/// carried is a failed request.
struct EncodedDriver: Sendable {
    let mode: LoadGenOptions.Mode
    let host: String
    let port: Int
    /// `host:port` of the target, as sent in `Host` (pairs encode their send_leave with it).
    let authority: String
    /// The resident server: the destination of the send_leaves pairs encode.
    let destination: String
    /// The played servers' signers by server name (pairs sign their templates with them).
    let signers: [String: EventSigner]
    let counters: LiveCounters
    /// An answer not complete this long after its request was written fails that request.
    var timeout: TimeAmount = .seconds(30)

    /// The endpoint of a job's first request.
    var firstEndpoint: Endpoint { mode == .sendOnly ? .sendLeave : .makeLeave }

    func run(queue: JobQueue, concurrency: Int) async -> RunStatistics {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let done = loop.makePromise(of: RunStatistics.self)
        loop.execute { [self] in
            let run = EncodedRun(driver: self, queue: queue, loop: loop, connections: concurrency, done: done)
            for _ in 0..<concurrency { run.connect() }
        }
        // The promise is only ever succeeded.
        return (try? await done.futureResult.get()) ?? RunStatistics()
    }
}

/// A pair's send_leave, encoded once its template was signed, with what its answer is recorded as.
struct PendingSend {
    let job: LeaveJob
    let request: ByteBuffer
    let eventID: String
    /// When the pair's make_leave was written.
    let pairStart: ContinuousClock.Instant
}

/// One run's shared state, confined to its event loop (every connection runs on it, so the
/// statistics need no lock).
final class EncodedRun {
    let driver: EncodedDriver
    let queue: JobQueue
    let loop: any EventLoop
    var statistics = RunStatistics()
    /// Connection slots still working; the run is over when none is.
    private var slots: Int
    private let done: EventLoopPromise<RunStatistics>

    init(driver: EncodedDriver, queue: JobQueue, loop: any EventLoop, connections: Int,
         done: EventLoopPromise<RunStatistics>) {
        self.driver = driver
        self.queue = queue
        self.loop = loop
        self.slots = connections
        self.done = done
    }

    /// Opens one connection for a slot (again, after the previous one closed early); it first
    /// writes `resuming`, the send_leave of a pair whose make_leave answer closed the previous one.
    func connect(resuming: PendingSend? = nil) {
        let bound = NIOLoopBound((run: self, resuming: resuming), eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        EncodedConnection(run: bound.value.run, resuming: bound.value.resuming))
                }
            }
            .connect(host: driver.host, port: driver.port)
            .whenFailure { error in bound.value.run.connectFailed(error, resuming: bound.value.resuming) }
    }

    /// No connection: the slot's pending send_leave or next job fails with the reason, and the
    /// slot tries again shortly.
    private func connectFailed(_ error: any Error, resuming: PendingSend?) {
        if resuming != nil {
            fail(.sendLeave, status: nil, detail: LeaveDriver.describe(error))
        } else {
            guard queue.takeScheduled() != nil else { return slotEnded() }
            statistics.recordAttempt()
            driver.counters.attempted()
            fail(driver.firstEndpoint, status: nil, detail: LeaveDriver.describe(error))
        }
        loop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { self.connect() }
    }

    /// A slot found the queue empty.
    func slotEnded() {
        slots -= 1
        if slots == 0 { done.succeed(statistics) }
    }

    func fail(_ endpoint: Endpoint, status: Int?, detail: String) {
        statistics.recordFailure(FailureKind(endpoint: endpoint, status: status, detail: detail))
        driver.counters.failed()
    }
}
