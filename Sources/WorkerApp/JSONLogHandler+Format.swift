import Foundation

/// The two values of a log line that Foundation's formatters made costly (each line has both):
/// the timestamp and a duration, written by hand with the same output.
extension JSONLogHandler {
    /// RFC 3339 in UTC with milliseconds, as `Date.ISO8601FormatStyle(includingFractionalSeconds: true)`
    /// writes it: `2027-01-15T08:00:00.250Z` (sub-millisecond digits dropped).
    static func timestampText(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let (days, dayMilliseconds) = totalMilliseconds.floorDivided(by: 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var text = ""
        text.reserveCapacity(24)
        append(year, width: 4, to: &text)
        text += "-"; append(month, width: 2, to: &text)
        text += "-"; append(day, width: 2, to: &text)
        text += "T"; append(dayMilliseconds / 3_600_000, width: 2, to: &text)
        text += ":"; append(dayMilliseconds / 60_000 % 60, width: 2, to: &text)
        text += ":"; append(dayMilliseconds / 1000 % 60, width: 2, to: &text)
        text += "."; append(dayMilliseconds % 1000, width: 3, to: &text)
        text += "Z"
        return text
    }

    /// `number` with three decimals, as `String(format: "%.3f", number)` (finite numbers). Where
    /// that is not certain — outside ±10^12, or a scaled value within a hair of a tie, where
    /// `printf` decides on the exact binary value — it is `String(format:)` itself.
    static func threeDecimals(_ number: Double) -> String {
        let scaled = abs(number) * 1000
        guard scaled < 1e15, abs(scaled - scaled.rounded(.down) - 0.5) > 1e-6 else { return String(format: "%.3f", number) }
        let thousandths = Int64(scaled.rounded(.toNearestOrAwayFromZero))
        var text = number.sign == .minus ? "-" : ""
        text += String(thousandths / 1000)
        text += "."
        append(thousandths % 1000, width: 3, to: &text)
        return text
    }

    /// Year, month, day of the proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func append(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.utf8.count < width { text += String(repeating: "0", count: width - digits.utf8.count) }
        text += digits
    }
}

private extension Int64 {
    /// Quotient rounded toward minus infinity and the (non-negative) remainder.
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = self / divisor - (self % divisor < 0 ? 1 : 0)
        return (quotient, self - quotient * divisor)
    }
}
