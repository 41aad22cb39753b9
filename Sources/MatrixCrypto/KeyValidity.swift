import MatrixCore

/// What a remote server's key is being used for, which decides whether it is still valid.
public enum KeyUse: Sendable, Equatable {
    /// Checking an X-Matrix request received at `now` (ms).
    case request(now: Int64)
    /// Checking an event signature; `enforcesKeyValidity` is the room version's rule (v5+).
    case event(originServerTS: Int64, enforcesKeyValidity: Bool)
}

/// The key validity rules of the server-keys spec (x-matrix-auth-and-keys §4.3), as pure functions.
public enum KeyValidity {
    /// The longest a fetched key is trusted beyond its fetch: 7 days, in ms.
    public static let maximumValidityPeriod: Int64 = 7 * 24 * 60 * 60 * 1000

    /// `min(valid_until_ts, fetched_at + 7 days)`: the 7-day cap, applied at fetch time so a key
    /// published with a very long validity is refetched at least weekly.
    public static func effectiveValidUntil(validUntilTS: Int64, fetchedAt: Int64) -> Int64 {
        min(validUntilTS, fetchedAt.saturatingAdd(maximumValidityPeriod))
    }

    /// Whether a `verify_keys` key valid until `validUntilTS` (ideally the effective, capped value)
    /// may be used: requests need `validUntilTS ≥ now`; events in rooms enforcing key validity (v5+)
    /// need `validUntilTS ≥ origin_server_ts`; older rooms ignore validity.
    public static func isUsable(validUntilTS: Int64, for use: KeyUse) -> Bool {
        switch use {
        case .request(let now): return validUntilTS >= now
        case .event(let originServerTS, let enforcesKeyValidity): return !enforcesKeyValidity || validUntilTS >= originServerTS
        }
    }

    /// Whether an `old_verify_keys` key that expired at `expiredTS` may be used: never for requests;
    /// for events in rooms enforcing key validity only if `origin_server_ts ≤ expired_ts`; always in older rooms.
    public static func isUsable(expiredTS: Int64, for use: KeyUse) -> Bool {
        switch use {
        case .request: return false
        case .event(let originServerTS, let enforcesKeyValidity): return !enforcesKeyValidity || originServerTS <= expiredTS
        }
    }

    /// Why an `old_verify_keys` key that expired at `expiredTS` may not be used for `use`, or nil
    /// when ``isUsable(expiredTS:for:)`` allows it.
    public static func refusal(expiredTS: Int64, for use: KeyUse) -> String? {
        if isUsable(expiredTS: expiredTS, for: use) { return nil }
        if case .request = use { return "it is an old key (expired_ts \(expiredTS)), never valid for requests" }
        return "it expired (expired_ts \(expiredTS)) before the event was sent"
    }
}
