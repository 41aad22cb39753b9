import AsyncHTTPClient
import Federation
import Foundation
import MatrixCore
import MatrixCrypto
import Postgres
import RemoteHomeserver
import Storage
import WorkerApp

/// `leave-worker loadgen`: plays the remote homeservers named by the loopback federation
/// overrides, imports rooms whose members live on them, drives leaves against the target, and
/// checks in Postgres that every accepted leave was stored.
public enum LoadGenerator {
    /// Runs a whole load test. `settings` are the workers' own: the resident server's name and
    /// signing key (the rooms are created as it), the database, the federation overrides.
    /// Setup messages go to `log`; the report is returned (the caller prints it).
    /// `beforeStorageCheck` runs after the forwarding check (which waits for the drain first, so
    /// that the check in Postgres does not delay it) and before the check in Postgres (tests use it
    /// to lose a leave on purpose).
    public static func run(options: LoadGenOptions, settings: Settings,
                           log: @escaping @Sendable (String) -> Void = LoadGenerator.logToStandardError,
                           beforeStorageCheck: @Sendable ([AcceptedLeave]) async throws -> Void = { _ in })
        async throws -> LoadReport
    {
        let target = try TargetPolicy.check(options.target, allowRemote: options.allowRemote)
        try validate(options)
        guard let version = RoomVersion(options.roomVersion) else {
            throw LoadGenError.invalidOption("unknown room version \(options.roomVersion)")
        }
        let residentName = try settings.serverName
        let resident = EventSigner(serverName: residentName, key: try residentKey(settings))
        let overrides = try settings.federationOverrides
        let played = try PlayedServers(overrides: overrides, resident: resident)
        for server in played.servers { server.recordsTransactions = options.verifyForwarding }
        try await played.start()
        do {
            let report = try await run(options: options, target: target, settings: settings, version: version,
                                       resident: resident, played: played, log: log,
                                       beforeStorageCheck: beforeStorageCheck)
            await played.stop()
            return report
        } catch {
            await played.stop()
            throw error
        }
    }

    private static func run(options: LoadGenOptions, target: String, settings: Settings, version: RoomVersion,
                            resident: EventSigner, played: PlayedServers, log: @escaping @Sendable (String) -> Void,
                            beforeStorageCheck: @Sendable ([AcceptedLeave]) async throws -> Void)
        async throws -> LoadReport
    {
        let remotes = played.servers.map(\.eventSigner)
        log("playing \(remotes.map(\.serverName).joined(separator: ", ")) on loopback")
        let setup = RoomSetup(version: version, resident: resident, remotes: remotes, rooms: options.rooms,
                              membersPerRoom: options.membersPerRoom, settings: settings)
        var (jobs, rooms) = try await setup.prepare(log: log)
        if options.mode == .sendOnly {
            jobs = try await setup.presign(jobs, rooms: rooms)
            log("signed \(jobs.count) leaves in advance")
        }
        rooms = []

        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton,
                                    configuration: clientConfiguration(concurrency: options.concurrency))
        let requesters = Dictionary(uniqueKeysWithValues: played.servers.map { server in
            (server.serverName, server.requester(destination: resident.serverName, baseURL: target, httpClient: httpClient))
        })
        let encodedTarget = EncodedRequest.authority(ofHTTP: target).flatMap { authority in
            EncodedRequest.hostAndPort(of: authority).map { (authority, $0.host, $0.port) }
        }
        let signers = Dictionary(uniqueKeysWithValues: remotes.map { ($0.serverName, $0) })
        jobs = try await prepareRequests(jobs, requesters: requesters, signers: signers, resident: resident.serverName,
                                         authority: encodedTarget?.0)
        let counters = LiveCounters()
        let driver = LeaveDriver(mode: options.mode, requesters: requesters, signers: signers, counters: counters)
        let encodedDriver = encodedTarget.map { authority, host, port in
            EncodedDriver(mode: options.mode, host: host, port: port, authority: authority,
                          destination: resident.serverName, signers: signers, counters: counters)
        }
        let verifyMicroseconds = try BoxSpeed.ed25519VerifyMicroseconds()
        let transactionsBefore = played.transactionCount
        let cpuBefore = CPUTime.now()
        let machineBefore = MachineCPU.snapshot()
        let start = ContinuousClock.now
        let queue = JobQueue(jobs: jobs, limit: options.count, deadline: options.duration.map { start + $0 },
                             repeating: options.mode == .makeOnly,
                             pace: options.rate.map { (start, .nanoseconds(Int64(1e9 / $0))) })
        let progress = options.progress && isatty(STDERR_FILENO) == 1
            ? Task { await ProgressLine(counters: counters, start: start).run() } : nil
        let statistics = if let encodedDriver {
            await encodedDriver.run(queue: queue, concurrency: options.concurrency)
        } else {
            await driver.run(queue: queue, concurrency: options.concurrency)
        }
        let lastAnswer = ContinuousClock.now
        let elapsed = RoomSetup.seconds(lastAnswer - start)
        let cpu = CPUTime.now() - cpuBefore
        let machineAfter = MachineCPU.snapshot()
        progress?.cancel()
        await progress?.value
        try? await httpClient.shutdown()

        var report = LoadReport(mode: options.mode, target: target, concurrency: options.concurrency,
                                stopReason: queue.stopReason(), statistics: statistics, elapsedSeconds: elapsed,
                                generatorCPU: cpu, forwardedTransactions: played.transactionCount - transactionsBefore)
        if let machineBefore, let machineAfter {
            report.cpuSplit = machineAfter.split(since: machineBefore, seconds: elapsed)
        }
        report.ed25519VerifyMicroseconds = verifyMicroseconds
        if options.drainTimeout != nil || options.verifyForwarding {
            let (forwarding, machineWhenDrained) = try await ForwardingCheck.run(
                accepted: statistics.accepted, played: played, version: version, residentServer: resident.serverName,
                databaseURL: settings.databaseURL, lastAnswer: lastAnswer, drainTimeout: options.drainTimeout ?? .seconds(60),
                verify: options.verifyForwarding)
            report.forwarding = forwarding
            if let machineBefore, let machineWhenDrained, let drainSeconds = forwarding.drainSeconds {
                report.elapsedWithDrainSeconds = elapsed + drainSeconds
                report.cpuSplitWithDrain = machineWhenDrained.split(since: machineBefore, seconds: elapsed + drainSeconds)
            }
        }
        try await beforeStorageCheck(statistics.accepted)
        report.lost = try await checkStored(statistics.accepted, settings: settings)
        return report
    }

    /// Every job's first request built and signed before the clock starts: for an `http://` target
    /// (`authority` given) as bytes — send-only's send_leave (its jobs are the presigned ones), the
    /// other modes' make_leave —; for an `https://` one, send-only's send_leave as a prepared request
    /// (the other modes build theirs during the run).
    private static func prepareRequests(_ jobs: [LeaveJob], requesters: [String: FederationRequester],
                                        signers: [String: EventSigner], resident: String,
                                        authority: String?) async throws -> [LeaveJob] {
        try await ConcurrentMap.map(jobs) { job in
            var job = job
            guard let requester = requesters[job.server], let signer = signers[job.server] else { return job }
            switch (authority, job.presigned) {
            case (let authority?, let leave?):
                job.encoded = try EncodedRequest.sendLeave(roomID: job.roomID, leave: leave, signer: signer,
                                                           destination: resident, authority: authority)
            case (let authority?, nil):
                job.encoded = try EncodedRequest.makeLeave(roomID: job.roomID, userID: job.userID, signer: signer,
                                                           destination: resident, authority: authority)
            case (nil, let leave?):
                job.prepared = try requester.prepareSendLeave(roomID: job.roomID, eventID: leave.eventID, pdu: leave.pdu)
            case (nil, nil):
                break
            }
            return job
        }
    }

    private static func checkStored(_ accepted: [AcceptedLeave], settings: Settings) async throws -> Int {
        let pool = PostgresPool(configuration: PostgresConfiguration(url: settings.databaseURL, poolSize: 2))
        do {
            let lost = try await LostLeaveCheck.lostLeaves(accepted, rooms: RoomStore(pool: pool))
            await pool.close()
            return lost.count
        } catch {
            await pool.close()
            throw error
        }
    }

    private static func validate(_ options: LoadGenOptions) throws(LoadGenError) {
        guard options.rooms >= 1 else { throw .invalidOption("--rooms must be at least 1") }
        guard options.membersPerRoom >= 1 else { throw .invalidOption("--members must be at least 1") }
        guard options.concurrency >= 1 else { throw .invalidOption("--concurrency must be at least 1") }
        if let count = options.count, count < 1 { throw .invalidOption("--count must be at least 1") }
        if let duration = options.duration, duration <= .zero { throw .invalidOption("--duration must be positive") }
        if let rate = options.rate, !(rate > 0 && rate <= 1_000_000) { throw .invalidOption("--rate must be between 0 and 1000000") }
    }

    /// The resident server's current signing key, from the key file the workers use.
    private static func residentKey(_ settings: Settings) throws -> SigningKey {
        do {
            return try settings.currentSigningKey()
        } catch {
            throw LoadGenError.invalidOption(error.description)
        }
    }

    private static func clientConfiguration(concurrency: Int) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60),
                                             concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, concurrency))
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.tracing.tracer = nil   // no tracer is bootstrapped: skip building spans (the generator shares the cores)
        return configuration
    }

    @Sendable public static func logToStandardError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
