import Foundation

/// The live progress line on a terminal: elapsed time, leaves, accepted rate, errors — rewritten
/// in place once a second on standard error.
struct ProgressLine {
    let counters: LiveCounters
    let start: ContinuousClock.Instant

    /// Runs until cancelled; then ends the line.
    func run() async {
        var previousAccepted = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = counters.snapshot
            let elapsed = RoomSetup.seconds(ContinuousClock.now - start)
            let line = "\r[\(LoadReport.format(elapsed, 1)) s] leaves \(now.attempted)  accepted \(now.accepted)  "
                + "rate \(now.accepted - previousAccepted)/s  errors \(now.failed)   "
            previousAccepted = now.accepted
            FileHandle.standardError.write(Data(line.utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
