#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock as Matrix timestamps count it: whole milliseconds since the Unix epoch
/// (rounded down). The one clock of the worker; whoever needs another time takes a
/// `() -> Int64` defaulting to ``now()``, so tests can inject theirs.
public enum UnixMilliseconds {
    @Sendable public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec).saturatingMultiply(1000).saturatingAdd(Int64(time.tv_nsec) / 1_000_000)
    }
}

extension Int64 {
    /// `self * other`, clamped to `Int64.min...Int64.max` instead of trapping on overflow.
    public func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }
}

extension Duration {
    /// Whole nanoseconds (towards zero), saturating at the bounds of `Int64`.
    public var saturatingNanoseconds: Int64 { scaled(by: 1_000_000_000) }

    /// Whole milliseconds (towards zero), saturating at the bounds of `Int64`.
    public var saturatingMilliseconds: Int64 { scaled(by: 1_000) }

    private func scaled(by unitsPerSecond: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        return seconds.saturatingMultiply(unitsPerSecond).saturatingAdd(attoseconds / (1_000_000_000_000_000_000 / unitsPerSecond))
    }
}
