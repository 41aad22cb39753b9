import Metrics
import Synchronization

/// `leave_worker_requests_total{route, status}` and `leave_worker_request_duration_seconds{route}`:
/// the route is one of ``Route/name``'s fixed values or "unknown", the status a number the worker
/// chose, so the label values — and these tables of handles — stay bounded. Each handle is made
/// once, at its series' first request, after the process bootstrapped its metrics backend: making
/// one per request (the backend's look-up of the series by name and labels) cost about 2 µs.
enum RequestMetrics {
    private struct Series: Hashable {
        let route: String
        let status: Int
    }

    private static let counters = Mutex<[Series: Counter]>([:])
    private static let timers = Mutex<[String: Timer]>([:])

    /// Counts one answered request.
    static func record(route: String, status: Int) {
        let series = Series(route: route, status: status)
        let counter = counters.withLock { counters in
            if let counter = counters[series] { return counter }
            let counter = Counter(label: "leave_worker_requests_total", dimensions: [("route", route), ("status", String(status))])
            counters[series] = counter
            return counter
        }
        counter.increment()
    }

    /// Records one request's time from its head to its answer.
    static func recordDuration(route: String, nanoseconds: Int64) {
        let timer = timers.withLock { timers in
            if let timer = timers[route] { return timer }
            let timer = Timer(label: "leave_worker_request_duration_seconds", dimensions: [("route", route)])
            timers[route] = timer
            return timer
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
