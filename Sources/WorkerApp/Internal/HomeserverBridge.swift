import Hummingbird
import LeaveService
import Logging
import MatrixCore
import NIOCore
import ServiceLifecycle
import Storage
import Synchronization

/// The two internal endpoints a homeserver of record speaks to the fleet (issue 15), behind a
/// bearer token: it pushes its rooms' new events (`PUT /_leave_worker/v1/rooms/{roomId}/events`,
/// the `rooms import` path) and follows the leaves the fleet accepted (`GET /_leave_worker/v1/events`).
/// Served only on the internal listener, never on the federation one.
public final class HomeserverBridge: Sendable {
    /// The largest push body. While a push is imported, its body, its parsed events and the
    /// records made of them are all in memory: about 17 times the body at the peak (a 12.6 MB
    /// history of a 20,000-member room took a worker from 47 to 265 MB with jemalloc), so 8 MiB
    /// keeps one push within the pod's 256 MiB. A longer history is pushed in several pushes, in
    /// order: the first starting with the create event, each next one appending to the held room.
    static let maxPushBytes = 8 << 20
    /// How long a push may take before it is answered 503 (retry; a repeated push is harmless):
    /// four times a federation request's default deadline, as a push may check thousands of events
    /// and fetch their servers' keys.
    static let pushDeadline = Duration.seconds(120)
    /// Events a feed read returns when `limit` is absent.
    static let defaultFeedLimit = 100

    let token: BridgeToken
    let importer: RoomImporter
    let feed: HomeserverFeed
    let logger: Logger
    /// The bound on a push's work (``pushDeadline``), and on a feed read's: its longest wait
    /// (`LEAVE_WORKER_FEED_MAX_WAIT_MS`) plus a federation request's deadline for the reads.
    let pushDeadline: RequestDeadline
    let feedDeadline: RequestDeadline
    /// Set while a push is being read and imported: one at a time per process, so that pushes
    /// arriving together do not multiply that memory (a second one is answered 503, retry).
    private let pushing = Atomic<Bool>(false)

    /// Nil when `LEAVE_WORKER_INTERNAL_TOKEN_FILE` is not set: the bridge routes are then not served.
    public static func make(settings: Settings, runtime: WorkerRuntime) throws -> HomeserverBridge? {
        guard let path = settings.values[.internalTokenFile] else { return nil }
        let wakeups = StreamWakeups(url: settings.databaseDirectURL, logger: runtime.logger)
        let feedMaxWait = try settings.feedMaxWait
        return HomeserverBridge(
            token: try BridgeToken.read(path: path), importer: runtime.leaves.importer,
            feed: HomeserverFeed(rooms: runtime.rooms, wakeups: wakeups, maximumWait: feedMaxWait),
            feedDeadline: feedMaxWait + (try settings.httpLimits.requestDeadline), logger: runtime.logger)
    }

    init(token: BridgeToken, importer: RoomImporter, feed: HomeserverFeed, feedDeadline: Duration, logger: Logger) {
        self.token = token
        self.importer = importer
        self.feed = feed
        self.logger = logger
        pushDeadline = RequestDeadline(limit: Self.pushDeadline)
        self.feedDeadline = RequestDeadline(limit: feedDeadline)
    }

    /// The longest a bridge request may work: the internal listener's bound on an answer.
    var longestRequest: Duration { max(pushDeadline.limit, feedDeadline.limit) }

    /// Stops the feed's LISTEN connection.
    public func stop() {
        feed.wakeups.stop()
    }

    /// The internal listener, which at a graceful shutdown first ends the feed's long-polls (they
    /// answer with what they have) so that in-flight reads do not hold the shutdown for their whole wait.
    struct ClosingFeed: Service {
        let listener: any Service
        let bridge: HomeserverBridge

        func run() async throws {
            try await withGracefulShutdownHandler { try await listener.run() } onGracefulShutdown: { bridge.stop() }
        }
    }

    /// `PUT /_leave_worker/v1/rooms/{roomId}/events` with `{"room_version", "events": [...]}`:
    /// 200 and the import summary; 400 for a refused event (named), 409 for a conflict with the
    /// room as held (e.g. a leave accepted meanwhile, both events named), 503 for our database or
    /// a signing key that could not be had just now — a remote server's, or ours under a key ID
    /// this worker was not given yet (the event named: retry the push later) — or for another push
    /// being imported; 413 for a body over ``maxPushBytes``.
    func pushEvents(roomID: String, request: Request) async throws(MatrixError) -> Response {
        guard pushing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw .unavailable("Another push is being imported; retry")
        }
        defer { pushing.store(false, ordering: .releasing) }
        let body = try await FederationResponder.readBody(request, upTo: Self.maxPushBytes)
        do {
            let report = try await importer.importRoom(body.readableBytesView, roomID: roomID)
            return FederationResponder.json(200, report.json.compactBytes())
        } catch let error as ImportError {
            if error.isUndecided { throw .unavailable("\(error.description); retry") }
            throw MatrixError(status: 400, errcode: "M_INVALID_PARAM", error.description)
        } catch let error as StorageError {
            if case .importConflict = error { throw MatrixError(status: 409, errcode: "M_CONFLICT", error.description) }
            throw storageFailure(error)
        } catch {
            throw storageFailure(error)
        }
    }

    /// `GET /_leave_worker/v1/events?from=POS&limit=N&timeout_ms=T`: `{"events": [...], "next_from"}`,
    /// each event `{"stream_position", "room_id", "event_id", "pdu"}`; `next_from` is the position
    /// to ask from next (the last event's, or `from` when none came within the wait); 400
    /// `M_INVALID_PARAM` for a `from` above the stream's last position.
    func readFeed(query: [String: String]) async throws(MatrixError) -> Response {
        func number(_ name: String, default fallback: Int64, minimum: Int64) throws(MatrixError) -> Int64 {
            guard let text = query[name] else { return fallback }
            guard let value = Int64(text), value >= minimum else {
                throw MatrixError(status: 400, errcode: "M_INVALID_PARAM", "\(name) must be an integer ≥ \(minimum)")
            }
            return value
        }
        let from = try number("from", default: 0, minimum: 0)
        let limit = try number("limit", default: Int64(Self.defaultFeedLimit), minimum: 1)
        let timeout = try number("timeout_ms", default: 0, minimum: 0)
        let events: [FeedEvent]
        do {
            events = try await feed.read(after: from, limit: Int(min(limit, Int64(RoomStore.maxFeedEvents))),
                                         wait: .milliseconds(min(timeout, 86_400_000)))
        } catch let error as PositionBeyondStream {
            throw MatrixError(status: 400, errcode: "M_INVALID_PARAM", error.description)
        } catch {
            throw storageFailure(error)
        }
        var bytes = Array(#"{"events":["#.utf8)
        for (index, event) in events.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += event.jsonBytes
        }
        bytes += Array(#"],"next_from":"#.utf8) + Array(String(events.last?.streamPosition ?? from).utf8) + [UInt8(ascii: "}")]
        return FederationResponder.json(200, bytes)
    }

    private func storageFailure(_ error: any Error) -> MatrixError {
        logger.warning("homeserver bridge: storage failure", metadata: ["error": "\(error)"])
        return .unavailable("This server could not complete the request; retry")
    }
}
