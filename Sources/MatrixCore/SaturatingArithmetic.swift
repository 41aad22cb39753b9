extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max` instead of trapping on overflow: for sums
    /// with a number taken from the network (a `depth` or timestamp may be 2^63 − 1 in room versions 1–5).
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}
