import Dispatch

/// Runs every task that prefers it on one serial queue, in the order their jobs arrive — so a test
/// knows which tasks are runnable when one of them yields.
final class OneThreadExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "one-thread-executor")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
