import Foundation
import Logging
import MatrixCore
import MatrixCrypto
import Storage
import Synchronization
import WorkDeadline

/// Public keys of remote servers, for checking requests and events: memory → Postgres (shared by
/// all workers) → `GET /_matrix/key/v2/server` from the origin, verified and stored in both.
///
/// Concurrent misses for one server share a single refresh (single-flight); a server whose fetch
/// failed is not asked again for ``Configuration/failureBackoff`` (its requests fail at once), and
/// no server is fetched from more often than ``Configuration/minimumRefetchInterval``. Within that
/// interval after a refresh, a key ID the server does not have is refused from memory (no
/// Postgres read), so random key IDs cost nothing. At most ``Configuration/maximumConcurrentFetches``
/// fetches run at once; beyond that a fetch waits ``Configuration/fetchSlotWait`` for a slot, then
/// fails as ``KeyFetchError/overloaded(server:)`` (undecided: 503). Servers without stored keys —
/// newcomers, whose names nobody has proven: an unsigned request may name any — take at most
/// ``Configuration/maximumConcurrentNewcomerFetches`` of those slots and look names up on threads
/// of their own (``LookUpThreads/newcomers``), so origins made up by the thousand, whose key
/// servers or resolvers never answer, cannot keep known servers' fetches (key rotations, expired
/// keys) or the sender's look-ups waiting. Key documents are bounded in
/// size (``Configuration/maximumDocumentBytes``) and keys (``Configuration/maximumDocumentKeys``).
/// Every map is bounded (``Configuration/memoryCapacity``, LRU).
public final class KeyFetcher: Sendable {
    /// Timeouts, back-off and size of the key cache.
    public struct Configuration: Sendable {
        /// Bound on one key fetch (connect to last body byte).
        public var fetchTimeout: Duration = .seconds(5)
        /// How long a server whose fetch failed is not asked again.
        public var failureBackoff: Duration = .seconds(30)
        /// The shortest time between two fetches from one server (unknown key IDs cannot force more).
        public var minimumRefetchInterval: Duration = .seconds(30)
        /// How many servers' keys (and failures, fetch times) are kept in memory.
        public var memoryCapacity: Int = 10_000
        /// Key fetches this process runs at once.
        public var maximumConcurrentFetches: Int = 32
        /// Of those, fetches from servers without stored keys: a quarter (at least one).
        public var maximumConcurrentNewcomerFetches: Int { max(1, maximumConcurrentFetches / 4) }
        /// How long a fetch waits for a free slot before failing as overloaded.
        public var fetchSlotWait: Duration = .seconds(1)
        /// The largest key document read (a longer response is refused as a bad response).
        public var maximumDocumentBytes: Int = 65_536
        /// The most keys a document may list (`verify_keys` and `old_verify_keys` together).
        public var maximumDocumentKeys: Int = ServerKeyDocument.defaultMaximumKeys

        public init() {}
    }

    private struct Flight {
        let id: UInt64
        let task: Task<Void, any Error>
    }

    private struct State {
        var cache: ServerKeyCache
        var flights: [String: Flight] = [:]
        var nextFlightID: UInt64 = 0
    }

    private let store: ServerKeyStore
    private let transport: FederationTransport
    private let configuration: Configuration
    private let now: @Sendable () -> Int64
    private let monotonicNow: @Sendable () -> ContinuousClock.Instant
    private let logger: Logger
    private let metrics = KeyCacheMetrics()
    private let state: Mutex<State>
    /// Servers whose last fetch failed, until their back-off ends.
    private let failures: ExpiringCache<String, KeyFetchError>
    /// Servers fetched from within the last ``Configuration/minimumRefetchInterval``.
    private let recentFetches: ExpiringCache<String, Bool>
    private let slots: FetchSlots
    /// The share of ``slots`` servers without stored keys may hold.
    private let newcomerSlots: FetchSlots

    /// - Parameters:
    ///   - store: the shared Postgres key table.
    ///   - transport: how to reach origin servers.
    ///   - now: the wall clock in ms since the epoch (key validity is compared with it).
    ///   - monotonicNow: the clock back-offs and refetch intervals are measured on (tests pass a
    ///     manual one instead of sleeping).
    public init(
        store: ServerKeyStore, transport: FederationTransport, configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> Int64 = UnixMilliseconds.now,
        monotonicNow: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        logger: Logger = Logger(label: "leave-worker.keys")
    ) {
        self.store = store
        self.transport = transport
        self.configuration = configuration
        self.now = now
        self.monotonicNow = monotonicNow
        self.logger = logger
        self.state = Mutex(State(cache: ServerKeyCache(capacity: configuration.memoryCapacity)))
        self.failures = ExpiringCache(capacity: configuration.memoryCapacity, now: monotonicNow)
        self.recentFetches = ExpiringCache(capacity: configuration.memoryCapacity, now: monotonicNow)
        self.slots = FetchSlots(limit: configuration.maximumConcurrentFetches)
        self.newcomerSlots = FetchSlots(limit: configuration.maximumConcurrentNewcomerFetches)
    }

    /// The key if memory holds it and it is valid for `use`; never reads Postgres or fetches.
    public func cachedKey(server: String, keyID: String, use: KeyUse) -> Ed25519PublicKey? {
        guard case .usable(let key) = state.withLock({ $0.cache.lookup(server: server, keyID: keyID, use: use) })
        else { return nil }
        return key
    }

    /// The public key `keyID` of `server`, valid for `use` (``KeyUse/request(now:)`` for X-Matrix:
    /// current keys with `valid_until_ts ≥ now`; events: per the room version's rules).
    public func publicKey(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) -> Ed25519PublicKey {
        let now = monotonicNow()
        let (memory, refreshedAt, refreshing) = state.withLock {
            ($0.cache.lookup(server: server, keyID: keyID, use: use), $0.cache.refreshedAt(server: server),
             $0.flights[server] != nil)
        }
        if case .usable(let key) = memory {
            metrics.memoryHits.increment()
            return key
        }
        metrics.misses.increment()
        if let failure = failures.value(for: server) { throw failure }
        // Refreshed lately, fetched lately and no refresh running (it may bring the key): a refresh
        // now could only re-read Postgres. Answer from memory.
        if !refreshing, let refreshedAt, now - refreshedAt < configuration.minimumRefetchInterval,
           recentFetches.value(for: server) != nil {
            if case .notUsable(let reason) = memory { throw .keyNotValid(server: server, keyID: keyID, reason: reason) }
            throw .keyNotPublished(server: server, keyID: keyID)
        }
        // A refresh someone else started may have been for another key ID: then refresh once more ourselves.
        for round in 1...3 {
            let ownRefresh = try await refresh(server: server, keyID: keyID, use: use)
            let final = ownRefresh || round == 3
            switch state.withLock({ $0.cache.lookup(server: server, keyID: keyID, use: use) }) {
            case .usable(let key): return key
            case .notUsable(let reason) where final: throw .keyNotValid(server: server, keyID: keyID, reason: reason)
            case .unknown where final: throw .keyNotPublished(server: server, keyID: keyID)
            case .notUsable, .unknown: continue
            }
        }
        throw .keyNotPublished(server: server, keyID: keyID)
    }

    /// The current time for `KeyUse.request(now:)`.
    public func currentTime() -> Int64 { now() }

    /// Joins the running refresh of `server`'s keys or starts one; returns whether it was started here.
    private func refresh(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) -> Bool {
        let (flight, started) = state.withLock { state -> (Flight, Bool) in
            if let running = state.flights[server] { return (running, false) }
            state.nextFlightID &+= 1
            let id = state.nextFlightID
            let task = DeadlineScope.outsideAnyRequest {   // shared by every request that joins it
                Task {
                    defer { self.endFlight(server: server, id: id) }
                    try await self.performRefresh(server: server, keyID: keyID, use: use)
                }
            }
            let flight = Flight(id: id, task: task)
            state.flights[server] = flight
            return (flight, true)
        }
        do {
            try await DeadlineScope.bounded { try await flight.task.value }   // the refresh goes on for the others
        } catch let error as KeyFetchError {
            throw error
        } catch {
            throw .unreachable(server: server, reason: "\(error)")
        }
        return started
    }

    private func endFlight(server: String, id: UInt64) {
        state.withLock { state in
            if state.flights[server]?.id == id { state.flights[server] = nil }
        }
    }

    /// Postgres first; then, unless the server failed recently or was fetched very recently, the origin.
    private func performRefresh(server: String, keyID: String, use: KeyUse) async throws(KeyFetchError) {
        let start = monotonicNow()
        if let failure = failures.value(for: server) { throw failure }

        var stored: [StoredServerKey] = []
        var isNewcomer = true
        do {
            stored = try await store.keys(server: server)
            isNewcomer = stored.isEmpty
            let lookup = state.withLock { state in
                state.cache.install(server: server, keys: stored, at: start)
                return state.cache.lookup(server: server, keyID: keyID, use: use)
            }
            if case .usable = lookup {
                metrics.databaseHits.increment()
                return
            }
        } catch {
            logger.warning("cannot read cached server keys", metadata: ["server": "\(server)", "error": "\(error)"])
        }

        guard recentFetches.setIfAbsent(true, for: server, lifetime: configuration.minimumRefetchInterval) else { return }
        metrics.fetches.increment()
        let fetchedAt = now()
        let rows: [StoredServerKey]
        do {
            rows = StoredServerKey.rows(from: try await fetchInSlot(server: server, isNewcomer: isNewcomer), fetchedAt: fetchedAt)
        } catch {
            metrics.fetchFailures.increment()
            logger.info("server key fetch failed", metadata: ["server": "\(server)", "error": "\(error)"])
            if case .overloaded = error {
                recentFetches.remove(server)   // not asked: the next request may fetch
            } else {
                failures.set(error, for: server, lifetime: configuration.failureBackoff)
            }
            throw error
        }
        // The spec: a key ID's bytes are never replaced without a word in the log (a server that
        // reused a key ID, or a new owner of its name; events signed under the old bytes no
        // longer verify).
        for row in rows {
            if let old = stored.first(where: { $0.keyID.bytesEqual(row.keyID) }), old.publicKey != row.publicKey {
                logger.warning("server key replaced under the same key ID", metadata: ["server": "\(server)", "key_id": "\(row.keyID)"])
            }
        }
        state.withLock { $0.cache.install(server: server, keys: rows, at: start) }
        do {
            try await store.store(server: server, keys: rows)
        } catch {
            logger.warning("cannot store server keys", metadata: ["server": "\(server)", "error": "\(error)"])
        }
    }

    /// ``fetchKeys(server:)`` within one of the process's fetch slots — for a newcomer (a server
    /// without stored keys, or whose stored keys could not be read), one of the newcomers' share
    /// too, its look-ups on their threads. The wait for both is ``Configuration/fetchSlotWait``.
    private func fetchInSlot(server: String, isNewcomer: Bool) async throws(KeyFetchError) -> VerifiedServerKeys {
        let waitEnds = ContinuousClock.now + configuration.fetchSlotWait
        guard isNewcomer else {
            guard await slots.acquire(wait: configuration.fetchSlotWait) else { throw .overloaded(server: server) }
            defer { slots.release() }
            return try await fetchKeys(server: server)
        }
        guard await newcomerSlots.acquire(wait: configuration.fetchSlotWait) else { throw .overloaded(server: server) }
        defer { newcomerSlots.release() }
        guard await slots.acquire(wait: max(.zero, waitEnds - ContinuousClock.now)) else { throw .overloaded(server: server) }
        defer { slots.release() }
        do {
            return try await LookUpThreads.$current.withValue(.newcomers) { try await fetchKeys(server: server) }
        } catch let error as KeyFetchError {
            throw error
        } catch {
            throw .unreachable(server: server, reason: "\(error)")
        }
    }

    /// `GET /_matrix/key/v2/server` from `server`, verified: for that server, self-signed by a key
    /// it lists (the spec's rule, and Synapse's). Not required: that the key ID a request named —
    /// chosen by whoever sent it — signed it too: a forged header naming a listed key that did not sign would fail
    /// the fetch, and the failure, remembered for the server, would refuse its real requests.
    private func fetchKeys(server: String) async throws(KeyFetchError) -> VerifiedServerKeys {
        let response: FederationResponse
        do throws(FederationRequestError) {
            response = try await transport.send(
                method: "GET", to: server, target: "/_matrix/key/v2/server", timeout: configuration.fetchTimeout,
                maximumResponseBytes: configuration.maximumDocumentBytes)
        } catch {
            switch error {
            case .timedOut: throw .timedOut(server: server)
            case .responseTooLarge(_, let limit):
                throw .badResponse(server: server, reason: "the key document is over \(limit) bytes")
            case .forbiddenAddress: throw .destinationNotAllowed(server: server, reason: error.description)
            case .invalidServerName, .unreachable, .invalidRequest:
                throw .unreachable(server: server, reason: error.description)
            }
        }
        guard response.status == 200 else { throw .badResponse(server: server, reason: "HTTP status \(response.status)") }
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(response.body)
        } catch {
            throw .badResponse(server: server, reason: "the body is not JSON: \(error)")
        }
        guard let document = parsed.objectValue else {
            throw .badResponse(server: server, reason: "the body is not a JSON object")
        }
        do {
            return try ServerKeyDocument.verify(
                document, expectedServer: server, maximumKeys: configuration.maximumDocumentKeys)
        } catch {
            throw .invalidDocument(server: server, error: error)
        }
    }
}
