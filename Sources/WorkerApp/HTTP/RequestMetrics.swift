import Metrics

/// `leave_worker_requests_total{route, status}`: the route is one of ``Route/name``'s fixed values
/// or "unknown", the status a number the worker chose, so the label values stay bounded.
enum RequestMetrics {
    static func record(route: String, status: Int) {
        Counter(label: "leave_worker_requests_total", dimensions: [("route", route), ("status", String(status))]).increment()
    }
}
