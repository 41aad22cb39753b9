import Foundation
import Hummingbird
import Logging
import MatrixCore
import MatrixCrypto
import Synchronization

/// A real HTTP server on a loopback port playing a remote homeserver: it serves a key document
/// (or misbehaves on purpose), counts key requests, and records the signed requests it receives.
final class FakeHomeserver: Sendable {
    /// How `GET /_matrix/key/v2/server` answers.
    enum KeyBehaviour: Sendable {
        case document(JSONObject)
        case slow(JSONObject, delay: Duration)
        case status(Int)
        case body(String)
    }

    /// One request received on a federation route.
    struct ReceivedRequest: Sendable {
        let method: String
        let target: String
        let host: String?
        let authorization: [String]
        let body: [UInt8]
    }

    /// What the routes share with the test.
    private final class State: Sendable {
        let behaviour: Mutex<KeyBehaviour>
        let keyRequests = Atomic<Int>(0)
        let received = Mutex<[ReceivedRequest]>([])

        init(_ behaviour: KeyBehaviour) {
            self.behaviour = Mutex(behaviour)
        }
    }

    private let state: State
    private let serverTask: Task<Void, any Error>
    let port: Int

    var keyRequests: Int { state.keyRequests.load(ordering: .relaxed) }
    var receivedRequests: [ReceivedRequest] { state.received.withLock { $0 } }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    func setKeyBehaviour(_ newBehaviour: KeyBehaviour) {
        state.behaviour.withLock { $0 = newBehaviour }
    }

    /// Starts the server and waits until it listens.
    init(keys: KeyBehaviour) async throws {
        let state = State(keys)
        let router = Router()
        router.get("/_matrix/key/v2/server") { _, _ -> Response in
            await Self.answerKeyRequest(state)
        }
        for method in [HTTPRequest.Method.get, .put] {
            router.on("/_matrix/federation/**", method: method) { request, _ -> Response in
                try await Self.record(request, in: state)
            }
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "fake-homeserver")
        logger.logLevel = .critical   // cancelling the server at the end of a test logs errors
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        self.state = state
        self.serverTask = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        self.port = await iterator.next() ?? 0
    }

    /// Stops the server.
    func stop() async {
        serverTask.cancel()
        _ = try? await serverTask.value
    }

    private static func answerKeyRequest(_ state: State) async -> Response {
        state.keyRequests.add(1, ordering: .relaxed)
        switch state.behaviour.withLock({ $0 }) {
        case .document(let document):
            return json(document.compactBytes())
        case .slow(let document, let delay):
            try? await Task.sleep(for: delay)
            return json(document.compactBytes())
        case .status(let code):
            return Response(status: .init(code: code))
        case .body(let text):
            return json(Array(text.utf8))
        }
    }

    private static func record(_ request: Request, in state: State) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        state.received.withLock {
            $0.append(ReceivedRequest(
                method: request.method.rawValue, target: request.head.path ?? "",
                host: request.head.authority, authorization: request.headers[values: .authorization],
                body: Array(buffer: body)))
        }
        return json(Array("{}".utf8))
    }

    private static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
