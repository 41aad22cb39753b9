import Foundation

/// Setup work spread over the machine's cores: signing and encoding 100,000+ leaves one after the
/// other would keep a run of 16,000-member rooms waiting for minutes.
enum ConcurrentMap {
    /// `transform` applied to every element, in order, with the elements split into one slice per core.
    static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], _ transform: @escaping @Sendable (Element) throws -> Result
    ) async throws -> [Result] {
        let slices = max(1, min(elements.count / 256, ProcessInfo.processInfo.activeProcessorCount))
        let size = (elements.count + slices - 1) / max(1, slices)
        return try await withThrowingTaskGroup(of: (Int, [Result]).self) { group in
            for slice in 0..<slices {
                let part = elements[min(elements.count, slice * size)..<min(elements.count, (slice + 1) * size)]
                group.addTask { (slice, try part.map(transform)) }
            }
            var parts = [[Result]](repeating: [], count: slices)
            for try await (slice, results) in group { parts[slice] = results }
            return parts.flatMap { $0 }
        }
    }
}
