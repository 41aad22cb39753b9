import NIOCore
import NIOPosix

/// Send-only mode's driver for a plain-HTTP target: `concurrency` keep-alive HTTP/1.1 connections,
/// all on one event loop, each writing the next job's encoded request (``EncodedRequest``) as soon
/// as the previous answer is in, and measuring it. Per leave it costs one write and one read — no
/// task switch, no request object, no header encoding — so that the generator's CPU per leave stays
/// small next to the target's. A connection the server closes (or that times out) is replaced;
/// the request it carried is a failed request.
struct EncodedSendDriver: Sendable {
    let host: String
    let port: Int
    let counters: LiveCounters
    /// An answer not complete this long after its request was written fails that request.
    var timeout: TimeAmount = .seconds(30)

    func run(queue: JobQueue, concurrency: Int) async -> RunStatistics {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let done = loop.makePromise(of: RunStatistics.self)
        loop.execute { [self] in
            let run = SendRun(driver: self, queue: queue, loop: loop, connections: concurrency, done: done)
            for _ in 0..<concurrency { run.connect() }
        }
        // The promise is only ever succeeded.
        return (try? await done.futureResult.get()) ?? RunStatistics()
    }
}

/// One run's shared state, confined to its event loop (every connection runs on it, so the
/// statistics need no lock).
final class SendRun {
    let driver: EncodedSendDriver
    let queue: JobQueue
    let loop: any EventLoop
    var statistics = RunStatistics()
    /// Connection slots still working; the run is over when none is.
    private var slots: Int
    private let done: EventLoopPromise<RunStatistics>

    init(driver: EncodedSendDriver, queue: JobQueue, loop: any EventLoop, connections: Int,
         done: EventLoopPromise<RunStatistics>) {
        self.driver = driver
        self.queue = queue
        self.loop = loop
        self.slots = connections
        self.done = done
    }

    /// Opens one connection for a slot (again, after the previous one closed early).
    func connect() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SendConnection(run: bound.value))
                }
            }
            .connect(host: driver.host, port: driver.port)
            .whenFailure { error in bound.value.connectFailed(error) }
    }

    /// No connection: the slot's next leave fails with the reason, and the slot tries again shortly.
    private func connectFailed(_ error: any Error) {
        guard queue.takeScheduled() != nil else { return slotEnded() }
        statistics.recordAttempt()
        driver.counters.attempted()
        fail(status: nil, detail: LeaveDriver.describe(error))
        loop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { self.connect() }
    }

    /// A slot found the queue empty.
    func slotEnded() {
        slots -= 1
        if slots == 0 { done.succeed(statistics) }
    }

    func fail(status: Int?, detail: String) {
        statistics.recordFailure(FailureKind(endpoint: .sendLeave, status: status, detail: detail))
        driver.counters.failed()
    }
}
