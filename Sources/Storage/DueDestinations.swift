/// What one scan for due destinations found (`ForwardingStore.dueDestinations`).
public struct DueDestinations: Sendable, Equatable {
    /// Destinations with events due: those without a failure since their last delivery first, then furthest behind first.
    public let destinations: [String]
    /// The stream position the scan covered: every accepted event at or below it was looked at
    /// (it is at most the stream's safe point: none at or below it commits later). The next
    /// incremental scan starts after it.
    public let scannedThrough: Int64
    /// Those of ``destinations`` with a failure since their last delivery.
    public let failing: Set<String>

    public init(destinations: [String], scannedThrough: Int64, failing: Set<String> = []) {
        self.destinations = destinations
        self.scannedThrough = scannedThrough
        self.failing = failing
    }
}
