/// A `make_leave`/`send_leave` request a simulated homeserver received — as the homeserver of
/// record behind the fleet's passthrough (issue 15) — recorded as it arrived.
public struct ReceivedLeaveRequest: Sendable, Equatable {
    public let method: String
    /// The raw request target: path and query.
    public let target: String
    public let authorization: [String]
    public let body: [UInt8]
}
