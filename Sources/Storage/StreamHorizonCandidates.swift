/// The bookkeeping behind `StreamHorizon`'s safe point (sql/0011, sql/0026, sql/README.md "Event
/// stream"), without the database: each read of `stream_horizon()` gives a candidate — the last
/// stream position handed out, the transactions writing events at that moment (their virtual
/// transaction IDs) and the WAL's insert position after it. A candidate becomes safe once a LATER
/// read no longer lists any of its writers and the WAL is flushed past its insert position: every
/// position at or below it is then committed and visible, or rolled back for ever — and on disk,
/// so no crash of the server can hand it out again.
///
/// Reads must be recorded in the order they were made. The safe point never goes back; candidates
/// read from a server that has since restarted are dropped (WAL positions after a restart belong
/// to another history).
public struct StreamHorizonCandidates: Sendable, Equatable {
    /// A position waiting for its writers to end and its WAL to be flushed.
    public struct Candidate: Sendable, Equatable {
        public let position: Int64
        public let writers: Set<String>
        /// The WAL's insert position when it was read: past the sequence's record of `position`.
        public let walInserted: Int64
    }

    /// The most candidates kept: past it the oldest are dropped. That only delays the safe point (a
    /// newer candidate reaches further); it bounds memory while a long writer (an import of a large
    /// room) holds every candidate back.
    public static let maximumPending = 64

    /// Every stream position at or below it is final.
    public private(set) var safePosition: Int64
    /// Candidates above the safe point, oldest first.
    public private(set) var pending: [Candidate] = []
    /// When the server the candidates were read from started (`nil` before the first read).
    public private(set) var serverStarted: Int64?

    public init(safePosition: Int64 = 0) {
        self.safePosition = safePosition
    }

    /// How far the WAL must be flushed for every pending candidate to be promoted once its
    /// writers end (0: nothing pending): what the next read asks `stream_horizon()` to make sure of.
    public var walNeeded: Int64 { pending.last?.walInserted ?? 0 }

    /// Records a read: `position` (the last position handed out), `writers` (the stream lock's
    /// holders, read after it), `walInserted` (the WAL's insert position, read after both),
    /// `walFlushed` (how far the WAL was on disk when the read answered) and `serverStarted` (when
    /// the server started). Promotes every earlier candidate none of whose writers is among
    /// `writers` any more and whose WAL is flushed; `position` itself is safe at once when nobody
    /// was writing and its WAL is flushed. A read from a server started at another time than the
    /// candidates' drops them first.
    public mutating func record(
        position: Int64, writers: Set<String>, walInserted: Int64 = 0, walFlushed: Int64 = 0, serverStarted: Int64 = 0
    ) {
        if serverStarted != self.serverStarted {
            pending.removeAll()
            self.serverStarted = serverStarted
        }
        for candidate in pending where candidate.writers.isDisjoint(with: writers) && candidate.walInserted <= walFlushed {
            safePosition = max(safePosition, candidate.position)
        }
        if writers.isEmpty && walInserted <= walFlushed {
            safePosition = max(safePosition, position)
        }
        let safe = safePosition
        pending.removeAll { $0.position <= safe }   // the promoted ones among them
        // A read at the newest candidate's position adds nothing: that candidate's writers still
        // running are listed again, with writers that started since, and its WAL is older — it is
        // promoted no later.
        guard position > safe, position != pending.last?.position else { return }
        pending.append(Candidate(position: position, writers: writers, walInserted: walInserted))
        if pending.count > Self.maximumPending {
            pending.removeFirst(pending.count - Self.maximumPending)
        }
    }
}
