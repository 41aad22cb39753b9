import Foundation

/// The wall-clock time in milliseconds since the Unix epoch, as Matrix timestamps count it.
public enum WallClock {
    public static func nowMS() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
