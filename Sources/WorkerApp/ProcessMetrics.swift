import Foundation

/// The standard Prometheus process metrics, read from `/proc/self` at each scrape:
/// `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds` and
/// `process_start_time_seconds`. A value that cannot be read (no `/proc`) is left out.
struct ProcessMetrics: Equatable {
    var residentBytes: Int?
    var cpuSeconds: Double?
    var openFileDescriptors: Int?
    var startTimeSeconds: Double?

    /// Reads this process's figures now.
    static func sample() -> ProcessMetrics {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        var metrics = ProcessMetrics()
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { metrics.residentBytes = pages * pageSize }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), ticks > 0,
           let end = stat.lastIndex(of: ")")
        {
            // After "pid (comm) ": field 3 is state; utime, stime are fields 14, 15; starttime is 22.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]),
               let start = Double(fields[19])
            {
                metrics.cpuSeconds = (user + system) / ticks
                if let boot = bootTime() { metrics.startTimeSeconds = boot + start / ticks }
            }
        }
        metrics.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count
        return metrics
    }

    /// The Prometheus text exposition of the figures that could be read.
    func prometheusText() -> String {
        var text = ""
        func add(_ name: String, _ type: String, _ help: String, _ value: String?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes.map(String.init))
        add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
            cpuSeconds.map { String(format: "%.2f", $0) })
        add("process_open_fds", "gauge", "Number of open file descriptors.", openFileDescriptors.map(String.init))
        add("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.",
            startTimeSeconds.map { String(format: "%.2f", $0) })
        return text
    }

    /// The system's boot time (`btime` of `/proc/stat`), in seconds since the Unix epoch.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }
}
