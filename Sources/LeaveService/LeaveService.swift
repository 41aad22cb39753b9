import Federation
import Foundation
import Logging
import MatrixCore
import MatrixCrypto
import Postgres
import Storage

/// The leave handshake for the rooms this server holds: `make_leave` templates, `send_leave`
/// validation and atomic storage, event retrieval. Composed from the pure core (PDU format,
/// hashes, auth rules, ACLs), the key fetcher and the room store; keeps no state of its own beyond
/// caches (room versions, which never change).
public final class LeaveService: Sendable {
    /// The largest number of forward extremities a template cites (the spec's `prev_events` limit).
    public static let maxPrevEvents = 20

    let serverName: String
    /// Our current signing key (the first of the key file); `nil` only in import-only runtimes.
    let signingKey: SigningKey?
    let rooms: RoomStore
    let versions: RoomVersionCache
    let parsedEvents = ParsedEventCache()
    let signatures: EventSignatureChecker
    let logger: Logger
    let now: @Sendable () -> Int64
    /// Room import (`leave-worker rooms import`), sharing this service's checks.
    public let importer: RoomImporter

    public init(
        serverName: String, signingKeys: [SigningKey], rooms: RoomStore, keys: KeyFetcher,
        maximumSignaturesPerServer: Int = 4, logger: Logger = Logger(label: "leave-worker.leaves"),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.serverName = serverName
        self.signingKey = signingKeys.first
        self.rooms = rooms
        self.versions = RoomVersionCache(rooms: rooms)
        var ownKeys: [ExactString: Ed25519PublicKey] = [:]
        for key in signingKeys { ownKeys[ExactString(key.keyID)] = key.publicKey }
        let signatures = EventSignatureChecker(
            ownServer: serverName, ownKeys: ownKeys, fetcher: keys, maximumSignaturesPerServer: max(1, maximumSignaturesPerServer))
        self.signatures = signatures
        self.logger = logger
        self.now = now
        self.importer = RoomImporter(rooms: rooms, signatures: signatures)
    }

    /// The room's version; 404 `M_NOT_FOUND` when we do not hold the room.
    func roomVersion(_ roomID: String) async throws(MatrixError) -> RoomVersion {
        let version = try await storage { try await versions.version(of: roomID) }
        guard let version else { throw .notFound("Unknown room \(roomID)") }
        return version
    }

    /// Runs a storage call, mapping its failures to 503 (never a 500).
    func storage<T>(_ body: () async throws -> T) async throws(MatrixError) -> T {
        do {
            return try await body()
        } catch {
            logger.warning("storage failure", metadata: ["error": "\(error)"])
            throw StorageFailure.matrixError(error)
        }
    }
}

/// Maps storage errors to what a remote server is told: our database being unreachable, the pool
/// exhausted or the room lock contended are all "try again later" (503 + `Retry-After`).
enum StorageFailure {
    static func matrixError(_ error: any Error) -> MatrixError {
        if let error = error as? StorageError {
            switch error {
            case .unknownRoom(let room): return .notFound("Unknown room \(room)")
            case .eventIDInOtherRoom(let event): return .forbidden("Event ID \(event) is already used in another room")
            case .contended: return .unavailable("The room is busy; retry", retryAfterMilliseconds: 200)
            // Our data, not the caller's request: the details are in the log line of `storage(_:)`.
            case .importConflict, .malformedRow: return .unavailable("This server could not complete the request; retry")
            }
        }
        if let error = error as? PostgresError {
            if error.isStatementTimeout { return .unavailable("Database busy: the request could not be completed in time; retry") }
            switch error.kind {
            case .poolExhausted: return .unavailable("Database busy: no connection free", retryAfterMilliseconds: 500)
            default: return .unavailable("Database unavailable")
            }
        }
        return .unavailable("This server could not complete the request; retry")
    }
}
