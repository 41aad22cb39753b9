import Hummingbird
import Logging
import MatrixCore
import Synchronization

/// A destination on loopback whose `PUT /_matrix/federation/v1/send/{txnId}` answers are scripted
/// (status, delay; or held until released), recording each transaction's ID and the `event_id`s of its PDUs.
final class ScriptedDestination: Sendable {
    struct Transaction: Sendable {
        let id: String
        let eventIDs: [String]
        let answeredStatus: Int
    }

    /// What the route shares with the test.
    private final class State: Sendable {
        let script: Mutex<(status: Int, delay: Duration)>
        let received = Mutex<[Transaction]>([])
        let held = Mutex(false)
        let arrivals = Mutex(0)

        init(status: Int, delay: Duration) {
            script = Mutex((status, delay))
        }
    }

    private let state: State
    private let serverTask: Task<Void, any Error>
    let port: Int

    var transactions: [Transaction] { state.received.withLock { $0 } }
    /// Transactions that reached the route (answered or not yet).
    var arrivals: Int { state.arrivals.withLock { $0 } }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    func answer(status: Int, after delay: Duration = .zero) {
        state.script.withLock { $0 = (status, delay) }
    }

    /// Answers nothing (transactions wait) until ``release()``.
    func hold() {
        state.held.withLock { $0 = true }
    }

    func release() {
        state.held.withLock { $0 = false }
    }

    init(status: Int, delay: Duration = .zero) async throws {
        let state = State(status: status, delay: delay)
        let router = Router()
        router.put("/_matrix/federation/v1/send/:txnId") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 22)
            state.arrivals.withLock { $0 += 1 }
            while state.held.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            let (status, delay) = state.script.withLock { $0 }
            if delay > .zero { try await Task.sleep(for: delay) }
            let pdus = (try? JSONParser.parse(Array(buffer: body)))?["pdus"]?.arrayValue ?? []
            state.received.withLock {
                $0.append(Transaction(id: context.parameters.get("txnId") ?? "",
                                      eventIDs: pdus.map { $0["event_id"]?.stringValue ?? "" }, answeredStatus: status))
            }
            let answer = status == 200 ? #"{"pdus":{}}"# : #"{"errcode":"M_UNKNOWN","error":"scripted"}"#
            return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: Array(answer.utf8))))
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "scripted-destination")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        self.state = state
        serverTask = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next() ?? 0
    }

    func stop() async {
        serverTask.cancel()
        _ = try? await serverTask.value
    }
}
