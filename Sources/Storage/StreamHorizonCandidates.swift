/// The bookkeeping behind `StreamHorizon`'s safe point (sql/0011, sql/README.md "Event stream"),
/// without the database: each read of `stream_horizon()` gives a candidate — the last stream
/// position handed out and the transactions writing events at that moment (their virtual
/// transaction IDs). A candidate becomes safe once a LATER read no longer lists any of its
/// writers: every position at or below it is then committed and visible, or rolled back for ever.
///
/// Reads must be recorded in the order they were made. The safe point never goes back.
public struct StreamHorizonCandidates: Sendable, Equatable {
    /// A position waiting for its writers to end.
    public struct Candidate: Sendable, Equatable {
        public let position: Int64
        public let writers: Set<String>
    }

    /// The most candidates kept: past it the oldest are dropped. That only delays the safe point (a
    /// newer candidate reaches further); it bounds memory while a long writer (an import of a large
    /// room) holds every candidate back.
    public static let maximumPending = 64

    /// Every stream position at or below it is final.
    public private(set) var safePosition: Int64
    /// Candidates above the safe point, oldest first.
    public private(set) var pending: [Candidate] = []

    public init(safePosition: Int64 = 0) {
        self.safePosition = safePosition
    }

    /// Records a read: `position` (the last position handed out) and `writers` (the stream lock's
    /// holders, read after it). Promotes every earlier candidate none of whose writers is among
    /// `writers` any more; `position` itself is safe at once when nobody was writing.
    public mutating func record(position: Int64, writers: Set<String>) {
        for candidate in pending where candidate.writers.isDisjoint(with: writers) {
            safePosition = max(safePosition, candidate.position)
        }
        if writers.isEmpty {
            safePosition = max(safePosition, position)
        }
        let safe = safePosition
        pending.removeAll { $0.position <= safe }   // the promoted ones among them
        // A read at the newest candidate's position adds nothing: that candidate's writers still
        // running are listed again, with writers that started since — it is promoted no later.
        guard position > safe, position != pending.last?.position else { return }
        pending.append(Candidate(position: position, writers: writers))
        if pending.count > Self.maximumPending {
            pending.removeFirst(pending.count - Self.maximumPending)
        }
    }
}
