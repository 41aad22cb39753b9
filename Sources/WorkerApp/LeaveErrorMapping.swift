import LeaveDecision
import LeaveService
import Storage

/// The one place where the leave service's errors become what a remote server is told: the
/// contract's status and errcode per refusal, 404 for what we do not hold, and 503 (with
/// `Retry-After`) for storage that cannot answer now. Texts never carry internals: SQL, addresses
/// and driver texts go to the log only (``MatrixError/logDetail`` and the service's log line).
extension MatrixError {
    public init(_ error: LeaveServiceError) {
        switch error {
        case .unknownRoom(let room): self = .notFound("Unknown room \(room)")
        case .eventNotFound: self = .notFound("Event not found")
        case .refused(let refusal): self.init(refusal)
        case .storage(let storage): self.init(storage)
        }
    }

    public init(_ refusal: LeaveRefusal) {
        let message = refusal.description
        let error: MatrixError
        switch refusal {
        case .malformed(let pdu) where pdu.isSizeViolation:
            error = .tooLarge(message)
        case .tooLargeWhenCountersigned:
            error = .tooLarge(message)
        case .roomIDMismatch, .malformed, .eventIDMismatch, .notAMemberStateEvent, .notALeave, .stateKeyNotSender,
            .templateUnbuildable:
            error = .badJSON(message)
        case .senderNotOnOrigin, .userNotOnOrigin, .bannedByServerACL, .badSignature, .authEventNotInRoom, .refusedByAuthEvents,
            .prevEventNotInRoom, .noPrevEvents, .refusedByCurrentState, .staleMembershipCited, .prevEventsPrecedeMembership,
            .membershipChanged, .cannotLeave:
            error = .forbidden(message)
        case .signaturesUndecided:
            // Keys that could not be fetched decide nothing: 503, as for the request's own key.
            error = .unavailable(message, retryAfterMilliseconds: 5000)
        case .noSigningKey:
            error = .unavailable(message)
        }
        self = refusal.logDetail.map(error.withLogDetail) ?? error
    }

    /// Our database unreachable, the pool exhausted or the room lock contended are all "try again
    /// later" (503 + `Retry-After`).
    public init(_ error: StorageError) {
        switch error {
        case .unknownRoom(let room): self = .notFound("Unknown room \(room)")
        case .eventIDInOtherRoom(let event): self = .forbidden("Event ID \(event) is already used in another room")
        case .contended: self = .unavailable("The room is busy; retry", retryAfterMilliseconds: 200)
        // Our data, not the caller's request: the details are in the service's log line.
        case .importConflict, .malformedRow: self = .unavailable("This server could not complete the request; retry")
        case .database(let failure):
            switch failure.kind {
            case .statementTimeout: self = .unavailable("Database busy: the request could not be completed in time; retry")
            case .poolExhausted: self = .unavailable("Database busy: no connection free", retryAfterMilliseconds: 500)
            case .unavailable: self = .unavailable("Database unavailable")
            case .other: self = .unavailable("This server could not complete the request; retry")
            }
        }
    }
}

/// Runs a leave-service call, its failure as the ``MatrixError`` to answer.
func answering<T>(_ call: () async throws(LeaveServiceError) -> T) async throws(MatrixError) -> T {
    do {
        return try await call()
    } catch {
        throw MatrixError(error)
    }
}
