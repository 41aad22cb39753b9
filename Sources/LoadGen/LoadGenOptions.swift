/// What `leave-worker loadgen` is asked to do (everything but the shared worker settings, which
/// give the resident server's name and key, the database and the federation overrides).
public struct LoadGenOptions: Sendable {
    /// How leaves are driven.
    public enum Mode: String, Sendable, CaseIterable {
        /// make_leave, sign, send_leave — as a real leaving server does, signing inline.
        case pairs
        /// send_leave only, with every leave prepared and signed before the clock starts.
        case sendOnly = "send-only"
        /// make_leave only, over and over for the joined members (nobody leaves): the template path.
        case makeOnly = "make-only"
    }

    /// Base URL of the worker or load balancer under test, e.g. `http://127.0.0.1:8448`.
    public var target: String
    public var mode: Mode
    public var rooms: Int
    /// Joined members per room, spread over the played remote servers; each leaves at most once.
    public var membersPerRoom: Int
    public var roomVersion: String
    public var concurrency: Int
    /// Stop after this long (the run also stops when `count` leaves were attempted or members run out).
    public var duration: Duration?
    /// Stop after this many leaves.
    public var count: Int?
    /// Start at most this many leaves (pairs, sends, make_leaves) per second, evenly spaced; nil: as
    /// fast as `concurrency` allows. Latency is measured from each request's actual start.
    public var rate: Double?
    /// Allow a target outside the loopback range.
    public var allowRemote: Bool
    /// Print the report as JSON instead of text.
    public var json: Bool
    /// Print live progress (rate, errors, elapsed) once a second on standard error.
    public var progress: Bool
    /// After the run, wait up to this long for the forwarding backlog to drain (and report how
    /// long it took); nil: do not wait.
    public var drainTimeout: Duration?
    /// Have the played servers keep what they receive, and check after draining that every
    /// accepted leave reached each server it was due to exactly once (costs generator CPU).
    public var verifyForwarding: Bool

    public init(target: String, mode: Mode = .pairs, rooms: Int = 8, membersPerRoom: Int = 500,
                roomVersion: String = "10", concurrency: Int = 8, duration: Duration? = .seconds(60),
                count: Int? = nil, rate: Double? = nil, allowRemote: Bool = false, json: Bool = false,
                progress: Bool = false, drainTimeout: Duration? = nil, verifyForwarding: Bool = false) {
        self.drainTimeout = drainTimeout
        self.verifyForwarding = verifyForwarding
        self.rate = rate
        self.target = target
        self.mode = mode
        self.rooms = rooms
        self.membersPerRoom = membersPerRoom
        self.roomVersion = roomVersion
        self.concurrency = concurrency
        self.duration = duration
        self.count = count
        self.allowRemote = allowRemote
        self.json = json
        self.progress = progress
    }
}
