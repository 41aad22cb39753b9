import Federation
import Logging
import Postgres
import Storage
import Synchronization

/// The federation sender that every worker runs (unless `LEAVE_WORKER_SENDER=off`): it forwards
/// accepted leaves to the other servers of their rooms by per-destination stream positions
/// (`sql/README.md`, "Forwarding").
///
/// Woken by the `NOTIFY` each committed leave sends (scanning at most every ``scanInterval``), it
/// asks which destinations have events due in the rooms with events accepted since its previous
/// scan (every ``SenderConfiguration/pollInterval``, and when it starts: in every room — leases
/// and back-offs ending, a lost `NOTIFY`) and, for each one not already in hand (at most
/// ``SenderConfiguration/maximumConcurrentDestinations`` at once), claims the destination with a
/// lease together with its next ≤ 50 due events, sends them as one X-Matrix-signed
/// `PUT /_matrix/federation/v1/send/{txnId}`, and on 200 advances the destination's position — or
/// records the failure, which backs the destination off for every worker. Any number of senders in
/// any number of processes share the work: one transaction at a time per destination, and a
/// destination whose sender died is claimable again when its lease ends, from the same position
/// (at-least-once delivery: a full batch comes again with the same transaction ID; see
/// `ForwardingBatch.transactionID`).
///
/// ``run()`` returns when its task is cancelled (claimed batches then wait for their leases), or
/// after ``stopClaiming()`` once the transactions in flight are answered — the graceful shutdown.
public final class FederationSender: Sendable {
    public let configuration: SenderConfiguration
    let store: ForwardingStore
    /// The stream's safe point: claims read up to it.
    let horizon: StreamHorizon
    let client: FederationClient
    let metrics = ForwardingMetrics()
    let encodedPDUs: EncodedPDUCache
    let logger: Logger
    private let listenURL: String
    let state = Mutex(SchedulerState())

    struct SchedulerState {
        var isStopping = false
        /// Destinations a drain task of this sender is working on.
        var active: Set<String> = []
        /// Active destinations a scan found due again: queued when their drain ends.
        var dueAgain: Set<String> = []
        /// Destinations known due and not in hand, healthy ones first: started as the concurrency
        /// allows (the scans that found them have moved past their events).
        var waiting = WaitingDestinations()
        /// Where the next scan starts (``ForwardingStore/dueDestinations(limit:changedAfter:)``);
        /// nil: a full scan.
        var scannedThrough: Int64?
        var wake: AsyncStream<Void>.Continuation?
    }

    /// - Parameters:
    ///   - pool: the shared database (the event stream and the destinations' positions; its direct
    ///     URL also serves the LISTEN connection).
    ///   - horizon: the process's stream safe point (`RoomStore.horizon`).
    ///   - client: signs and sends as this server; its timeout should be
    ///     ``SenderConfiguration/requestTimeout`` (below the lease).
    public convenience init(pool: PostgresPool, horizon: StreamHorizon, client: FederationClient, configuration: SenderConfiguration,
                            logger: Logger) {
        self.init(pool: pool, horizon: horizon, client: client, configuration: configuration, logger: logger,
                  encodedPDUs: EncodedPDUCache())
    }

    /// As the public initializer, with the cache of encoded PDUs given (tests size it).
    init(pool: PostgresPool, horizon: StreamHorizon, client: FederationClient, configuration: SenderConfiguration,
         logger: Logger, encodedPDUs: EncodedPDUCache) {
        self.store = ForwardingStore(pool: pool, serverName: client.serverName)
        self.encodedPDUs = encodedPDUs
        self.horizon = horizon
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.listenURL = pool.configuration.sessionURL
    }

    /// Sends until cancelled or stopped (see the type's documentation). Call once.
    public func run() async {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let stopped = state.withLock { state in
            state.wake = wake
            return state.isStopping
        }
        guard !stopped else { return }
        logger.info("federation sender running", metadata: [
            "lease": "\(configuration.lease)", "poll": "\(configuration.pollInterval)",
            "request_timeout": "\(configuration.requestTimeout)",
        ])
        wake.yield()   // a first scan: deliveries left over from before this process started
        let listener: PostgresListener?
        do {
            listener = try PostgresListener(url: listenURL, channels: [StreamNotification.channel])
        } catch {
            logger.error("forwarding: cannot listen for new leaves; polling only", metadata: ["error": "\(error)"])
            listener = nil
        }
        let pollInterval = configuration.pollInterval
        await withDiscardingTaskGroup { wakers in
            if let listener {
                // Every notification and every (re)connect: something may be due.
                wakers.addTask { for await _ in listener.events { wake.yield() } }
            }
            wakers.addTask {
                while (try? await Task.sleep(for: pollInterval)) != nil {
                    self.state.withLock { $0.scannedThrough = nil }
                    wake.yield()
                }
            }
            // Apart from the scans: a slow read of the gauges must not hold up the next scan.
            wakers.addTask {
                repeat { await self.samplePending() } while (try? await Task.sleep(for: Self.pendingSampleInterval)) != nil
            }
            await schedule(wakeups)
            listener?.stop()
            wakers.cancelAll()
        }
        state.withLock { $0.wake = nil }
        logger.info("forwarding stopped")
    }

    /// Stops claiming: ``run()`` returns once the transactions already sent are answered and
    /// recorded. Destinations not yet claimed stay due for the other workers.
    public func stopClaiming() {
        let wake = state.withLock { state in
            state.isStopping = true
            return state.wake
        }
        wake?.finish()
    }

    var isStopping: Bool { state.withLock { $0.isStopping } }

    /// The least time between two scans' starts. A wake-up sooner after a scan waits out the rest
    /// (wake-ups meanwhile coalesce into it), so under load a destination's next transaction carries
    /// what arrived while its previous one was in flight plus up to this long — fuller
    /// transactions, and fewer scans, claims, signatures and requests per leave. After a quiet
    /// spell a wake-up scans at once, so a lone leave is not delayed; a delivery waits at most
    /// this much longer than without it. (Synapse's per-destination queue has the same effect from
    /// its one transaction in flight per destination — what arrives meanwhile goes in the next —
    /// fed by its replication stream's batches.)
    static let scanInterval = Duration.milliseconds(50)

    /// One scan per wake-up, at most one per ``scanInterval`` (wake-ups during a scan or its wait
    /// coalesce into one more), each starting a drain task per due destination not yet in hand;
    /// returns when the wake-ups end and every drain has.
    private func schedule(_ wakeups: AsyncStream<Void>) async {
        await withDiscardingTaskGroup { drains in
            var lastScan: ContinuousClock.Instant?
            for await _ in wakeups {
                if let lastScan, lastScan + Self.scanInterval > .now {
                    do { try await Task.sleep(until: lastScan + Self.scanInterval) } catch { break }
                }
                lastScan = .now
                for destination in await destinationsToStart() {
                    drains.addTask { await self.drain(from: destination) }
                }
            }
        }
    }

    /// The most destinations one scan returns; a scan that finds more does not move its position.
    static let scanLimit = 10_000

    /// Scans for due destinations (from where the previous scan ended, or everything after a poll
    /// timer's request), queues those not in hand, and starts queued ones up to the free
    /// concurrency; marks them active.
    private func destinationsToStart() async -> [String] {
        let after = state.withLock { $0.scannedThrough }
        let due: DueDestinations?
        do {
            due = try await store.dueDestinations(limit: Self.scanLimit, changedAfter: after, safe: horizon.safePosition())
        } catch {
            // The queue is still worked through; what the scan missed, the next one finds.
            logger.warning("forwarding: cannot list due destinations", metadata: ["error": "\(error)"])
            due = nil
        }
        let limit = configuration.maximumConcurrentDestinations
        return state.withLock { state -> [String] in
            guard !state.isStopping else { return [] }
            if let due {
                for destination in due.destinations where !state.waiting.contains(destination) {
                    if state.active.contains(destination) {
                        state.dueAgain.insert(destination)
                    } else {
                        state.waiting.append(destination, failing: due.failing.contains(destination))
                    }
                }
                // A poll timer's full-scan request made meanwhile (nil) stands; a scan never moves back.
                if due.destinations.count < Self.scanLimit,
                   let previous = state.scannedThrough ?? (after == nil ? Int64.min : nil) {
                    state.scannedThrough = max(previous, due.scannedThrough)
                }
            }
            let started = state.waiting.removeFirst(limit - state.active.count)
            state.active.formUnion(started)
            return started
        }
    }

    /// How often the backlog gauges are refreshed.
    static let pendingSampleInterval = Duration.seconds(5)

    /// Refreshes the backlog gauges (one probe per room and server still owed events).
    private func samplePending() async {
        do {
            let backlog = try await store.backlogGauge()
            metrics.recordBacklog(positions: backlog.positions, oldestWait: backlog.oldestWait)
        } catch {
            logger.debug("forwarding: cannot read the backlog", metadata: ["error": "\(error)"])
        }
    }
}
