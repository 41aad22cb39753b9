/// Destinations due and waiting for one of the sender's slots, in two lines, each in the order
/// found: those without a failure since their last delivery, then those failing. A server that
/// takes connections and never answers holds a slot for its whole send timeout, so failing
/// destinations queued by an earlier scan must not go before healthy ones a later scan finds (one
/// line in the order found let 100 such servers keep a healthy one waiting ≈ 3 × 15 s).
struct WaitingDestinations {
    private var healthy: [String] = []
    private var failing: [String] = []
    private var members: Set<String> = []

    var isEmpty: Bool { members.isEmpty }

    func contains(_ destination: String) -> Bool { members.contains(destination) }

    /// Queues `destination` at the end of its line, unless it is waiting already.
    mutating func append(_ destination: String, failing isFailing: Bool) {
        guard members.insert(destination).inserted else { return }
        if isFailing { failing.append(destination) } else { healthy.append(destination) }
    }

    /// Takes up to `count` destinations: healthy ones first.
    mutating func removeFirst(_ count: Int) -> [String] {
        let fromHealthy = min(max(0, count), healthy.count)
        var taken = Array(healthy.prefix(fromHealthy))
        healthy.removeFirst(fromHealthy)
        let fromFailing = min(max(0, count) - fromHealthy, failing.count)
        taken += failing.prefix(fromFailing)
        failing.removeFirst(fromFailing)
        for destination in taken { members.remove(destination) }
        return taken
    }
}
