import Federation
import LeaveDecision
import Logging
import MatrixCore
import MatrixCrypto
import Storage

/// The leave handshake for the rooms this server holds: `make_leave` templates, `send_leave`
/// (read → fetch keys → ``LeaveDecision`` → write), event retrieval. Keeps no state of its own
/// beyond caches (room versions and parsed stored events, which never change).
public final class LeaveService: Sendable {
    let serverName: String
    let decision: LeaveDecision
    let rooms: RoomStore
    let versions: RoomVersionCache
    let parsedEvents = ParsedEventCache()
    let signatures: EventSignatureChecker
    let logger: Logger
    let now: @Sendable () -> Int64
    /// Room import (`leave-worker rooms import`), sharing this service's checks.
    public let importer: RoomImporter

    /// - Parameters:
    ///   - signingKeys: our current keys, the first signing.
    ///   - oldSigningKeys: our retired keys: events our server signed with them still verify,
    ///     as far as their `expired_ts` allows (``KeyValidity/isUsable(expiredTS:for:)``).
    public init(
        serverName: String, signingKeys: [SigningKey], oldSigningKeys: [OldVerifyKey], rooms: RoomStore, keys: KeyFetcher,
        maximumSignaturesPerServer: Int = 4, logger: Logger = Logger(label: "leave-worker.leaves"),
        now: @escaping @Sendable () -> Int64 = UnixMilliseconds.now
    ) {
        self.serverName = serverName
        self.decision = LeaveDecision(
            serverName: serverName, signingKey: signingKeys.first, maximumSignaturesPerServer: maximumSignaturesPerServer)
        self.rooms = rooms
        self.versions = RoomVersionCache(rooms: rooms)
        var ownKeys: [ExactString: Ed25519PublicKey] = [:]
        for key in signingKeys { ownKeys[ExactString(key.keyID)] = key.publicKey }
        var oldOwnKeys: [ExactString: OldVerifyKey] = [:]
        for key in oldSigningKeys { oldOwnKeys[ExactString(key.keyID)] = key }
        let signatures = EventSignatureChecker(
            ownServer: serverName, ownKeys: ownKeys, oldOwnKeys: oldOwnKeys, fetcher: keys,
            maximumSignaturesPerServer: max(1, maximumSignaturesPerServer), logger: logger)
        self.signatures = signatures
        self.logger = logger
        self.now = now
        self.importer = RoomImporter(rooms: rooms, signatures: signatures)
    }

    /// The room's version; ``LeaveServiceError/unknownRoom(_:)`` when we do not hold the room.
    func roomVersion(_ roomID: String) async throws(LeaveServiceError) -> RoomVersion {
        let version = try await storage { () async throws(StorageError) in try await versions.version(of: roomID) }
        guard let version else { throw .unknownRoom(roomID) }
        return version
    }

    /// Whether this server holds the room (the cached room version: no database read for a held room).
    public func holds(roomID: String) async throws(LeaveServiceError) -> Bool {
        try await storage { () async throws(StorageError) in try await versions.version(of: roomID) } != nil
    }

    /// Runs a storage call; its failure is logged (with the internals) and answered as
    /// ``LeaveServiceError/storage(_:)``.
    func storage<T>(_ body: () async throws(StorageError) -> T) async throws(LeaveServiceError) -> T {
        do {
            return try await body()
        } catch {
            logger.warning("storage failure", metadata: ["error": "\(error)"])
            throw .storage(error)
        }
    }

    /// Stored events parsed (through the cache, which keeps those `keep` accepts) for the decision.
    func parsed(_ records: [StoredPDU], version: RoomVersion, keep: (AuthEvent) -> Bool = { _ in true }) throws(LeaveServiceError) -> [AuthEvent] {
        try storage { () throws(StorageError) in
            try records.map { record throws(StorageError) in try parsedEvents.event(record, version: version, keep: keep) }
        }
    }

    /// Synchronous form of ``storage(_:)``.
    func storage<T>(_ body: () throws(StorageError) -> T) throws(LeaveServiceError) -> T {
        do {
            return try body()
        } catch {
            logger.warning("storage failure", metadata: ["error": "\(error)"])
            throw .storage(error)
        }
    }
}
