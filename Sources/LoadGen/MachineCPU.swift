import Foundation

/// CPU time of every process on this machine, grouped by what it is — the generator itself,
/// leave-worker processes, Postgres processes, HAProxy, everything else — read from Linux's
/// `/proc`. Two snapshots around a run give the run's CPU split (`CPUSplit`).
struct MachineCPU: Sendable {
    /// A process group of the split.
    enum Group: String, Sendable, CaseIterable {
        case generator
        case worker = "leave-worker"
        case postgres
        case haproxy
        case other
    }

    /// CPU ticks (user + system, in `clockTicksPerSecond`) by process ID, with each process's group
    /// and parent: its own and those of its children that ended and that it reaped (a Postgres
    /// backend's or autovacuum worker's land in the postmaster's when it exits).
    var processes: [Int32: (group: Group, parent: Int32, ticks: UInt64)] = [:]
    /// Idle ticks of the whole machine (all cores), from `/proc/stat`.
    var idleTicks: UInt64 = 0

    static let clockTicksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The machine's processes now; nil where `/proc` cannot be read (not Linux).
    static func snapshot(ownProcessID: Int32 = getpid(), procDirectory: String = "/proc") -> MachineCPU? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: procDirectory),
              let stat = try? String(contentsOfFile: procDirectory + "/stat", encoding: .utf8),
              let idle = idleTicks(fromStat: stat)
        else { return nil }
        var snapshot = MachineCPU(idleTicks: idle)
        for entry in entries {
            guard let pid = Int32(entry),
                  let line = try? String(contentsOfFile: "\(procDirectory)/\(entry)/stat", encoding: .utf8),
                  let process = parseProcessStat(line)
            else { continue }   // a process that ended meanwhile
            snapshot.processes[pid] = (group(command: process.command, isSelf: pid == ownProcessID), process.parent, process.ticks)
        }
        return snapshot
    }

    /// The command name, parent process ID and user + system ticks, its own and its reaped
    /// children's, of a `/proc/PID/stat` line. The name is between the first "(" and the last ")"
    /// (it may hold spaces and parentheses); the parent is the 2nd field after it, utime, stime,
    /// cutime and cstime the 12th to 15th.
    static func parseProcessStat(_ line: String) -> (command: String, parent: Int32, ticks: UInt64)? {
        guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")"), open < close else { return nil }
        let command = String(line[line.index(after: open)..<close])
        let fields = line[line.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]), let user = UInt64(fields[11]), let system = UInt64(fields[12]),
              let childrenUser = UInt64(fields[13]), let childrenSystem = UInt64(fields[14])
        else { return nil }
        return (command, parent, user + system + childrenUser + childrenSystem)
    }

    /// The idle + iowait ticks of the `cpu` line of `/proc/stat`.
    static func idleTicks(fromStat stat: String) -> UInt64? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count > 4 else { return nil }
        return fields[3] + fields[4]
    }

    static func group(command: String, isSelf: Bool) -> Group {
        if isSelf { return .generator }
        switch command {
        case "leave-worker": return .worker
        case "postgres": return .postgres
        case "haproxy": return .haproxy
        default: return .other
        }
    }

    /// CPU used between `earlier` and this snapshot, `seconds` apart, in cores per group. A process
    /// that started in between counts from zero. One that ended in between counts in its parent's
    /// reaped children's ticks with its whole life, so what it had used before `earlier` is taken
    /// back from the group of that parent (the postmaster's, for Postgres' backends).
    func split(since earlier: MachineCPU, seconds: Double) -> CPUSplit {
        var ticks: [Group: Int64] = [:]
        for (pid, now) in processes {
            let before = earlier.processes[pid].map { $0.group == now.group ? $0.ticks : 0 } ?? 0
            ticks[now.group, default: 0] += Int64(clamping: now.ticks) - Int64(clamping: before)
        }
        for (pid, ended) in earlier.processes where processes[pid]?.group != ended.group {
            // Its whole life is in its reaper's ticks now (another cluster's postmaster reaped by a
            // shell lands in "other", not "postgres"); a reaper not seen took it nowhere counted.
            guard let reaper = processes[ended.parent] ?? earlier.processes[ended.parent] else { continue }
            ticks[reaper.group, default: 0] -= Int64(clamping: ended.ticks)
        }
        func cores(_ ticks: Int64) -> Double {
            seconds > 0 ? Double(max(0, ticks)) / Self.clockTicksPerSecond / seconds : 0
        }
        return CPUSplit(
            shares: Group.allCases.map { (group: $0.rawValue, cores: cores(ticks[$0] ?? 0)) },
            idleCores: cores(Int64(clamping: idleTicks) - Int64(clamping: earlier.idleTicks)),
            machineCores: ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// Where the machine's CPU went during a run, in cores (1.0 = one core busy for the whole run).
public struct CPUSplit: Sendable {
    /// Cores used by each process group: generator, leave-worker, postgres, haproxy, other.
    public let shares: [(group: String, cores: Double)]
    /// Cores left idle.
    public let idleCores: Double
    public let machineCores: Int
}
