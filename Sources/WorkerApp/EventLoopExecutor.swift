import NIOCore
import NIOPosix
import Synchronization

/// Where Swift tasks run in `serve`: on NIO's singleton event loop threads
/// (`MultiThreadedEventLoopGroup.singleton`, the group Hummingbird and AsyncHTTPClient already use)
/// instead of Swift's own cooperative pool. A request then stays on the thread its connection
/// is served on — no hop from the event loop to the pool and back for reading the request and
/// writing the response; a database borrow still runs on its connection's Dispatch queue and
/// resumes on an event loop.
///
/// Nothing the worker runs inside a task may block: libpq runs on the pool's Dispatch queues,
/// name lookups on their own queues, log lines are buffered (one `write(2)` per batch, to a
/// file or pipe), and signals arrive through Dispatch sources.
public enum EventLoopExecutor {
    private static let installed = Atomic<Bool>(false)

    /// Installs the event loops as Swift's global executor. Call once, from the main thread,
    /// before any task is enqueued on the global executor. Returns whether it took effect
    /// (false where the runtime offers no hook, or another party installed one first).
    @discardableResult
    public static func install() -> Bool {
        let done = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        installed.store(done, ordering: .relaxed)
        return done
    }

    /// What the worker logs at start: which executor runs its tasks.
    public static var description: String {
        installed.load(ordering: .relaxed) ? "nio-event-loops" : "swift-global-pool"
    }
}
