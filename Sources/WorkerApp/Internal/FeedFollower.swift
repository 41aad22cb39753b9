import Foundation
import Logging
import Postgres
import Storage

/// `leave-worker events follow --from POS`: the homeserver feed as NDJSON, one event a line
/// (`{"stream_position", "room_id", "event_id", "pdu"}`, as `GET /_leave_worker/v1/events`
/// returns them). It reads the database directly, with the same query and the same wake-ups as
/// the endpoint: a script next to the database needs neither the internal listener nor the token.
public enum FeedFollower {
    /// The wait after a failed read that may pass; doubled after each further one, up to `longestRetryWait`.
    static let firstRetryWait = Duration.milliseconds(100)
    static let longestRetryWait = Duration.seconds(5)

    /// Prints the events after `from` and then, unless `once`, every new one as it is accepted,
    /// until the process is stopped (or the task cancelled). A failed read that may pass (a
    /// Postgres restart or failover: `PostgresError.isTransient`) is logged and made again from
    /// the same position after a wait (`firstRetryWait`, doubling to `longestRetryWait`).
    /// `once`: returns when the feed is caught up, and a failed read ends the call.
    public static func follow(settings: Settings, from: Int64, once: Bool, emit: @Sendable ([UInt8]) -> Void) async throws {
        let pool = PostgresPool(configuration: settings.databaseConfiguration(poolSize: 1))
        var logger = Logger(label: "leave-worker")
        logger.logLevel = Logger.Level(rawValue: try settings.logLevel) ?? .info
        let wakeups = StreamWakeups(url: settings.databaseDirectURL, logger: logger)
        let feed = HomeserverFeed(rooms: RoomStore(pool: pool), wakeups: wakeups, maximumWait: .seconds(60))
        do {
            var position = from
            var retryWait = firstRetryWait
            while true {
                try Task.checkCancellation()
                let events: [FeedEvent]
                do {
                    events = try await feed.read(after: position, limit: RoomStore.maxFeedEvents, wait: once ? .zero : .seconds(60))
                } catch let error as PostgresError where !once && error.isTransient {
                    logger.warning("events follow: cannot read the feed now; reading again",
                                   metadata: ["error": "\(error)", "retry_in": "\(retryWait)"])
                    try await Task.sleep(for: retryWait)
                    retryWait = min(retryWait * 2, longestRetryWait)
                    continue
                }
                retryWait = firstRetryWait
                for event in events { emit(event.jsonBytes + [UInt8(ascii: "\n")]) }
                position = events.last?.streamPosition ?? position
                if once && events.isEmpty { break }
            }
        } catch {
            wakeups.stop()
            await pool.close()
            throw error
        }
        wakeups.stop()
        await pool.close()
    }
}
