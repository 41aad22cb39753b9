import Metrics

/// The key-cache counters (swift-metrics), exported by whatever metrics backend the process bootstraps.
struct KeyCacheMetrics: Sendable {
    /// A key found in memory.
    let memoryHits = Counter(label: "leave_worker_key_cache_hits_total", dimensions: [("layer", "memory")])
    /// A key found in Postgres after a memory miss.
    let databaseHits = Counter(label: "leave_worker_key_cache_hits_total", dimensions: [("layer", "database")])
    /// A key not usable from memory (a look-up in Postgres and maybe a fetch follows).
    let misses = Counter(label: "leave_worker_key_cache_misses_total")
    /// Key documents fetched from origin servers.
    let fetches = Counter(label: "leave_worker_key_fetches_total")
    /// Fetches that failed (unreachable, timeout, bad or unverifiable document).
    let fetchFailures = Counter(label: "leave_worker_key_fetch_failures_total")
}
