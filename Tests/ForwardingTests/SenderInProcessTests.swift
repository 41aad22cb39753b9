#if canImport(CDispatch)
import CDispatch
#endif
import Federation
@testable import Forwarding
import Foundation
import Logging
import MatrixCrypto
import Postgres
import Storage
import TestSupport
import Synchronization
import Testing

/// The sender in this process against a migrated database filled directly with accepted events due
/// to one destination, and destinations whose answers are scripted: batching, failure and
/// back-off, recovery, shutdown. (Its helpers also serve `SenderCadenceTests`.)
struct SenderInProcessTests {
    /// A migrated database holding `count` accepted events `$e1` … due to `destination`.
    static func due(_ count: Int, to destination: String) async throws -> (url: String, pool: PostgresPool) {
        let url = try TestDatabase.create(prefix: "sender")
        let pool = PostgresPool(configuration: PostgresConfiguration(url: url, poolSize: 4))
        _ = try await Migrator(directory: URL(fileURLWithPath: WorkerProcess.sqlDirectory)).migrate(pool: pool)
        try await pool.withConnection { connection in
            _ = try connection.query("INSERT INTO rooms (room_id, room_version) VALUES ('!r:resident.test', '10')")
            _ = try connection.query("""
                INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership,
                                    prev_events, auth_events, pdu, accepted)
                SELECT '!r:resident.test', '$e' || i, 'm.room.member', '@u' || i || ':a.test', '@u' || i || ':a.test',
                       i, 1, 'leave', '{}', '{}', json_build_object('event_id', '$e' || i, 'depth', i)::text, true
                FROM generate_series(1, $1::int) i
                """, [.int(Int64(count))])
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!r:resident.test', $1, 1)
                """, [.text(destination)])
        }
        return (url, pool)
    }

    static func sender(pool: PostgresPool, destination: String, baseURL: String, lease: Duration = .seconds(4),
                               alsoAt: [String] = [], concurrency: Int = 32, pollInterval: Duration = .milliseconds(100),
                               encodedPDUs: EncodedPDUCache = EncodedPDUCache(), otherURLs: [String: String] = [:])
        throws -> (FederationSender, FederationTransport)
    {
        var configuration = SenderConfiguration()
        configuration.lease = lease
        configuration.requestTimeout = lease / 2
        configuration.pollInterval = pollInterval
        configuration.maximumConcurrentDestinations = concurrency
        configuration.backoff = BackoffPolicy(base: .milliseconds(100), maximum: .milliseconds(300))
        let overrides = (([destination] + alsoAt).map { "\($0)=\(baseURL)" } + otherURLs.map { "\($0.key)=\($0.value)" })
            .joined(separator: ",")
        let transport = FederationTransport(destinations: FederationDestinations(
            overrides: try FederationOverrides.parse(overrides)))
        let client = FederationClient(serverName: "resident.test", signingKey: try SigningKey.generate(version: "s1"),
                                      transport: transport, timeout: configuration.requestTimeout)
        var logger = Logger(label: "sender-test")
        logger.logLevel = .critical
        let sender = FederationSender(pool: pool, horizon: StreamHorizon(pool: pool), client: client,
                                      configuration: configuration, logger: logger, encodedPDUs: encodedPDUs)
        return (sender, transport)
    }

    /// Stores an accepted leave `eventID` of `user` in `roomID` and sends its NOTIFY, as the accept path does.
    static func acceptLeave(_ eventID: String, of user: String, in roomID: String, depth: Int64, pool: PostgresPool) async throws {
        try await pool.withConnection { connection in
            _ = try connection.query("""
                INSERT INTO events (room_id, event_id, type, state_key, sender, depth, origin_server_ts, membership,
                                    prev_events, auth_events, pdu, accepted)
                VALUES ($1, $2, 'm.room.member', $3, $3, $4, 1, 'leave', '{}', '{}', json_build_object('event_id', $2::text)::text, true)
                """, [.text(roomID), .text(eventID), .text(user), .int(depth)])
            _ = try connection.query("SELECT pg_notify($1, '{}')", [.text(StreamNotification.channel)])
        }
    }

    static func pendingCount(_ pool: PostgresPool) async throws -> Int {
        try await ForwardingStore(pool: pool, serverName: "resident.test").backlog().events
    }

    /// Destinations leased now.
    private static func leased(_ pool: PostgresPool) async throws -> Int64? {
        try await pool.withConnection { try $0.query("SELECT count(*) FROM destinations WHERE lease_until > now()").rows[0].int64(0) }
    }

    private static func destinationRow(_ pool: PostgresPool, _ name: String) async throws -> (failures: Int64, lastError: String?)? {
        try await pool.withConnection { connection in
            let result = try connection.query("SELECT failures, last_error FROM destinations WHERE destination = $1", [.text(name)])
            return result.rows.first.map { ($0.int64(0) ?? -1, $0.string(1)) }
        }
    }

    /// Stops `sender` (letting its transaction in flight finish), then `destination`, then the rest.
    static func stop(_ sender: FederationSender, _ running: Task<Void, Never>, _ destination: ScriptedDestination,
                     _ transport: FederationTransport, _ pool: PostgresPool, _ url: String) async {
        sender.stopClaiming()
        await running.value
        await destination.stop()
        await shutDown(transport, pool, url)
    }

    static func shutDown(_ transport: FederationTransport, _ pool: PostgresPool, _ url: String) async {
        try? await transport.destinations.shutdown()
        await pool.close()
        try? TestDatabase.drop(url)
    }

    @Test func failuresBackOffThenEverythingGoesInBatchesOfAtMostFifty() async throws {
        let (url, pool) = try await Self.due(60, to: "flaky.test")
        let destination = try await ScriptedDestination(status: 500)
        let (sender, transport) = try Self.sender(pool: pool, destination: "flaky.test", baseURL: destination.baseURL)
        let running = Task { await sender.run() }

        let retried = await waitUntil(timeout: .seconds(10)) {
            (try? await Self.destinationRow(pool, "flaky.test"))?.failures ?? 0 >= 2
        }
        #expect(retried != nil, "no repeated failure recorded")
        #expect(try await Self.destinationRow(pool, "flaky.test")?.lastError == "HTTP 500 M_UNKNOWN")
        #expect(try await Self.pendingCount(pool) == 60)

        destination.answer(status: 200)
        let drained = await waitUntil(timeout: .seconds(10)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(drained != nil)
        #expect(try await Self.destinationRow(pool, "flaky.test")?.failures == 0)

        let all = destination.transactions
        let accepted = all.filter { $0.answeredStatus == 200 }
        #expect(all.allSatisfy { $0.eventIDs.count <= 50 })
        #expect(accepted.map(\.eventIDs.count).sorted() == [10, 50])
        #expect(Set(accepted.flatMap(\.eventIDs)) == Set((1...60).map { "$e\($0)" }))
        #expect(Set(accepted.map(\.id)).count == accepted.count, "a transaction ID was reused for other events")
        for transaction in all {   // a batch tried again carries the same ID and the same events
            #expect(all.filter { $0.id == transaction.id }.allSatisfy { $0.eventIDs == transaction.eventIDs })
        }

        await Self.stop(sender, running, destination, transport, pool, url)
    }

    /// Three destinations due the same 120 events: after each full batch the next claim leaves out
    /// the PDUs the sender's cache holds — with the usual cache, and with one that keeps a single
    /// entry, so that PDUs left out are gone from it by the time the transaction is built (the
    /// sender keeps the bytes it named). Either way each destination receives every event exactly
    /// once, in batches of at most 50, each PDU the stored one (its `event_id` read from the body).
    @Test(arguments: [65_536, 1])
    func pdusLeftOutOfClaimsStillReachEveryDestinationOnce(cacheEntries: Int) async throws {
        let (url, pool) = try await Self.due(120, to: "d1.test")
        try await pool.withConnection { connection in
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members)
                VALUES ('!r:resident.test', 'd2.test', 1), ('!r:resident.test', 'd3.test', 1)
                """)
        }
        let destination = try await ScriptedDestination(status: 200)
        let (sender, transport) = try Self.sender(pool: pool, destination: "d1.test", baseURL: destination.baseURL,
                                                  alsoAt: ["d2.test", "d3.test"],
                                                  encodedPDUs: EncodedPDUCache(maximumEntries: cacheEntries))
        let running = Task { await sender.run() }
        let drained = await waitUntil(timeout: .seconds(20)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(drained != nil)
        let accepted = destination.transactions.filter { $0.answeredStatus == 200 }
        #expect(accepted.allSatisfy { $0.eventIDs.count <= 50 })
        let received = accepted.flatMap(\.eventIDs)
        #expect(received.count == 360, "each of 120 events to each of 3 destinations, once")
        #expect(Dictionary(grouping: received, by: { $0 }).values.allSatisfy { $0.count == 3 })
        #expect(Set(received) == Set((1...120).map { "$e\($0)" }))
        await Self.stop(sender, running, destination, transport, pool, url)
    }

    /// Events a claim left without their PDU get the encoding the sender kept for them, or — when
    /// it kept none for that event — their stored PDU from Postgres again; one the store has no
    /// PDU for is an error, never an event sent without its PDU.
    @Test func eventsWithoutTheirPDUAreFilledFromWhatTheSenderKeptOrPostgres() async throws {
        let (url, pool) = try await Self.due(3, to: "d1.test")
        let (sender, transport) = try Self.sender(pool: pool, destination: "d1.test", baseURL: "http://127.0.0.1:9")
        let store = ForwardingStore(pool: pool, serverName: "resident.test")
        let claimed = try #require(try await store.claim(destination: "d1.test", limit: 3, lease: .seconds(60), safe: .max))
        let stored = claimed.events
        #expect(stored.count == 3)
        let bare = stored.map { ForwardedEvent(roomID: $0.roomID, eventID: $0.eventID, streamPosition: $0.streamPosition, pdu: nil) }
        let kept: [EncodedPDUCache.HeldEncoding] = [
            .init(position: stored[0].streamPosition, eventID: stored[0].eventID, pdu: Array("{}".utf8)),
            .init(position: stored[1].streamPosition, eventID: "$another", pdu: Array("{}".utf8)),
        ]
        let filled = try await sender.withPDUs(bare, held: kept)
        #expect(filled[0].pdu == Array("{}".utf8), "what the sender kept")
        #expect(Array(filled[1...]) == Array(stored[1...]), "kept for another event, or not kept: as stored")
        let unknown = ForwardedEvent(roomID: "!r:resident.test", eventID: "$nowhere", streamPosition: 999_999, pdu: nil)
        await #expect(throws: StorageError.self) { try await sender.withPDUs([unknown], held: []) }
        let mismatched = ForwardedEvent(roomID: "!r:resident.test", eventID: "$other", streamPosition: stored[2].streamPosition, pdu: nil)
        await #expect(throws: StorageError.self) { try await sender.withPDUs([mismatched], held: []) }
        await Self.shutDown(transport, pool, url)
    }

    /// With room for one destination at a time and no poll in sight, the destinations a scan found
    /// wait their turn, and a later leave (its NOTIFY: a scan of what changed) reaches them all.
    /// (A long lease, so a slow answer on a loaded machine is not a failure: only the poll retries.)
    @Test func destinationsBeyondTheConcurrencyWaitTheirTurnAndNewEventsReachThemWithoutAPoll() async throws {
        let (url, pool) = try await Self.due(3, to: "one.test")
        let others = ["two.test", "three.test"]
        try await pool.withConnection { connection in
            for server in others {
                _ = try connection.query("""
                    INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!r:resident.test', $1, 1)
                    """, [.text(server)])
            }
        }
        let destination = try await ScriptedDestination(status: 200)
        let (sender, transport) = try Self.sender(pool: pool, destination: "one.test", baseURL: destination.baseURL,
                                                  lease: .seconds(60), alsoAt: others, concurrency: 1, pollInterval: .seconds(3_600))
        let running = Task { await sender.run() }
        let drained = await waitUntil(timeout: .seconds(10)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(drained != nil, "a destination the first scan found was left waiting")
        #expect(destination.transactions.count == 3)

        try await Self.acceptLeave("$later", of: "@later:a.test", in: "!r:resident.test", depth: 9, pool: pool)
        let forwarded = await waitUntil(timeout: .seconds(10)) {
            destination.transactions.filter { $0.eventIDs == ["$later"] }.count == 3
        }
        #expect(forwarded != nil, "the later event did not reach all three destinations")
        let recorded = await waitUntil(timeout: .seconds(10)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(recorded != nil, "the deliveries were not recorded")

        await Self.stop(sender, running, destination, transport, pool, url)
    }

    /// A destination with a long backlog takes turns: once its turn is over (a second) and another
    /// destination waits for the one slot, it goes behind it after the batch in hand. slow.test has
    /// 500 events due (ten batches, each answered after 300 ms); quick.test's one event, accepted
    /// once slow.test's first batch is on its way, goes after at most five — it waited for all ten before.
    @Test func aDestinationWithALongBacklogLetsAWaitingOneGoAfterItsTurn() async throws {
        let (url, pool) = try await Self.due(500, to: "slow.test")
        try await pool.withConnection { connection in
            _ = try connection.query("INSERT INTO rooms (room_id, room_version) VALUES ('!q:resident.test', '10')")
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!q:resident.test', 'quick.test', 1)
                """)
        }
        let destination = try await ScriptedDestination(status: 200, delay: .milliseconds(300))
        let (sender, transport) = try Self.sender(pool: pool, destination: "slow.test", baseURL: destination.baseURL,
                                                  lease: .seconds(60), alsoAt: ["quick.test"], concurrency: 1,
                                                  pollInterval: .seconds(3_600))
        let running = Task { await sender.run() }
        let started = await waitUntil(timeout: .seconds(10)) { destination.arrivals >= 1 }
        #expect(started != nil, "slow.test's first batch was never sent")
        try await Self.acceptLeave("$quick", of: "@q:a.test", in: "!q:resident.test", depth: 1, pool: pool)
        let drained = await waitUntil(timeout: .seconds(30)) { (try? await Self.pendingCount(pool)) == 0 }
        #expect(drained != nil, "the backlog was not drained")

        let transactions = destination.transactions
        let quick = try #require(transactions.firstIndex { $0.eventIDs == ["$quick"] }, "quick.test never got its event")
        #expect(quick <= 5, "quick.test waited behind \(quick) of slow.test's batches")
        let slowEvents = transactions.flatMap(\.eventIDs).filter { $0 != "$quick" }
        #expect(slowEvents.count == 500 && Set(slowEvents).count == 500, "slow.test's events not delivered exactly once")
        await Self.stop(sender, running, destination, transport, pool, url)
    }

    /// Destinations that failed since their last delivery wait behind the healthy ones — also
    /// behind those a later scan finds: with one slot, held by a server that never answers, a
    /// healthy destination found after another failing one was queued goes first. (In one line in
    /// the order found, the failing one went first and held the slot for its whole timeout.)
    @Test func aHealthyDestinationFoundLaterGoesBeforeFailingOnesQueuedEarlier() async throws {
        let (url, pool) = try await Self.due(1, to: "hang1.test")
        let first = try HangingPort(port: WorkerProcess.freePort())
        let second = try HangingPort(port: WorkerProcess.freePort())
        defer { first.close(); second.close() }
        let healthy = try await ScriptedDestination(status: 200)
        try await pool.withConnection { connection in
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!r:resident.test', 'hang2.test', 1)
                """)
            _ = try connection.query("""
                INSERT INTO destinations (destination, failures, retry_at)
                VALUES ('hang1.test', 3, now() - interval '1 second'), ('hang2.test', 3, now() - interval '1 second')
                """)
            _ = try connection.query("INSERT INTO rooms (room_id, room_version) VALUES ('!h:resident.test', '10')")
            _ = try connection.query("""
                INSERT INTO room_joined_servers (room_id, server_name, joined_members) VALUES ('!h:resident.test', 'healthy.test', 1)
                """)
        }
        let (sender, transport) = try Self.sender(
            pool: pool, destination: "healthy.test", baseURL: healthy.baseURL, lease: .seconds(4), concurrency: 1,
            pollInterval: .seconds(3_600),
            otherURLs: ["hang1.test": "http://127.0.0.1:\(first.port)", "hang2.test": "http://127.0.0.1:\(second.port)"])
        let running = Task { await sender.run() }
        // hang1.test holds the one slot (2 s to its timeout); hang2.test waits.
        let holding = await waitUntil(timeout: .seconds(10)) { (try? await Self.leased(pool)) == 1 }
        #expect(holding != nil, "no destination was claimed")
        try await Self.acceptLeave("$healthy", of: "@h:a.test", in: "!h:resident.test", depth: 1, pool: pool)
        let delivered = await waitUntil(timeout: .seconds(20)) { !healthy.transactions.isEmpty }
        #expect(delivered != nil, "healthy.test never got its event")
        #expect(try await Self.destinationRow(pool, "hang2.test")?.failures == 3, "hang2.test was tried first")
        await Self.stop(sender, running, healthy, transport, pool, url)
    }

    /// The label of the Dispatch queue running the caller.
    private static func currentQueueLabel() -> String {
        #if canImport(CDispatch)
        String(cString: dispatch_queue_get_label(nil))
        #else
        String(cString: __dispatch_queue_get_label(nil))
        #endif
    }

    /// The sender's deliveries look names up on threads of their own (`LookUpThreads.destinations`),
    /// never on the shared ones that known servers' key fetches use — origins an attacker can make
    /// known with one successful fetch, whose silent resolver would otherwise starve the sender.
    @Test func deliveriesLookNamesUpOnTheDestinationsThreads() async throws {
        let (url, pool) = try await Self.due(1, to: "dest.test")
        let queues = Mutex<[String]>([])
        let resolver = HostResolver.onLookUpThreads { _ in
            let label = Self.currentQueueLabel()
            queues.withLock { $0.append(label) }
            return []
        }
        var configuration = SenderConfiguration()
        configuration.backoff = BackoffPolicy(base: .seconds(60), maximum: .seconds(60))
        let transport = FederationTransport(destinations: FederationDestinations(
            overrides: FederationOverrides(destinations: [:]), srvResolver: SRVResolver { _ in .none },
            connector: OutboundConnector(resolver: resolver)))
        let client = FederationClient(serverName: "resident.test", signingKey: try SigningKey.generate(version: "s1"),
                                      transport: transport, timeout: configuration.requestTimeout)
        var logger = Logger(label: "sender-test")
        logger.logLevel = .critical
        let sender = FederationSender(pool: pool, horizon: StreamHorizon(pool: pool), client: client,
                                      configuration: configuration, logger: logger)
        let running = Task { await sender.run() }
        let failed = await waitUntil(timeout: .seconds(10)) {
            (try? await Self.destinationRow(pool, "dest.test"))?.failures ?? 0 >= 1
        }
        #expect(failed != nil, "the delivery did not fail for want of an address")
        let seen = queues.withLock { $0 }
        #expect(!seen.isEmpty && seen.allSatisfy { $0.hasPrefix("leave-worker.look-up.destination.") }, "\(seen)")
        sender.stopClaiming()
        await running.value
        await Self.shutDown(transport, pool, url)
    }

    @Test func cancellingLeavesTheClaimToItsLeaseWithoutBackingOff() async throws {
        let (url, pool) = try await Self.due(3, to: "hanging.test")
        let hanging = try HangingPort(port: WorkerProcess.freePort())
        defer { hanging.close() }
        let (sender, transport) = try Self.sender(pool: pool, destination: "hanging.test",
                                                  baseURL: "http://127.0.0.1:\(hanging.port)", lease: .seconds(30))
        let running = Task { await sender.run() }
        let claimed = await waitUntil(timeout: .seconds(5)) {
            (try? await Self.leased(pool)) == 1
        }
        #expect(claimed != nil)
        try await Task.sleep(for: .milliseconds(200))   // the request is on its way
        let clock = ContinuousClock()
        let cancelledAt = clock.now
        running.cancel()
        await running.value
        #expect(clock.now - cancelledAt < .seconds(10))   // not after the request's 15 s timeout
        let row = try await Self.destinationRow(pool, "hanging.test")
        #expect(row?.failures == 0 && row?.lastError == nil, "a shutdown was recorded as a failure")
        #expect(try await Self.leased(pool) == 1)
        #expect(try await Self.pendingCount(pool) == 3)
        await Self.shutDown(transport, pool, url)
    }

    @Test func stopClaimingLetsTheTransactionInFlightFinish() async throws {
        let (url, pool) = try await Self.due(2, to: "slow.test")
        let destination = try await ScriptedDestination(status: 200, delay: .milliseconds(700))
        let (sender, transport) = try Self.sender(pool: pool, destination: "slow.test", baseURL: destination.baseURL,
                                                  lease: .seconds(20))
        let running = Task { await sender.run() }
        let inFlight = await waitUntil(timeout: .seconds(5)) {
            (try? await Self.leased(pool)) == 1
        }
        #expect(inFlight != nil)
        sender.stopClaiming()
        await running.value
        #expect(try await Self.pendingCount(pool) == 0, "the answered transaction was not recorded")
        #expect(destination.transactions.count == 1)
        await destination.stop()
        await Self.shutDown(transport, pool, url)
    }
}
