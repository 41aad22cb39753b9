import Hummingbird
import Logging
import MatrixCore
import MatrixCrypto
import ServiceLifecycle
import Synchronization

/// A remote Matrix homeserver played on loopback with the project's own code: it publishes its
/// signing keys at `GET /_matrix/key/v2/server`, accepts federation transactions
/// (`PUT /_matrix/federation/v1/send/{txnId}`), counts what it is asked, and signs requests and
/// events as that server. It can be stopped and started again on the same port.
public final class SimulatedHomeserver: Sendable {
    /// This server's name (the domain of its users).
    public let serverName: String
    private let state: Mutex<State>

    private struct State {
        var keys: PublishedKeys
        var trustedKeys: [String: [String: Ed25519PublicKey]] = [:]
        var keyRequestCount = 0
        var transactionCount = 0
        var recordsTransactions = true
        var transactions: [ReceivedTransaction] = []
        var leaveRequests: [ReceivedLeaveRequest] = []
        var running: (group: ServiceGroup, task: Task<Void, any Error>)?
        var port: Int?
    }

    public init(serverName: String, keys: PublishedKeys) {
        self.serverName = serverName
        self.state = Mutex(State(keys: keys))
    }

    public convenience init(serverName: String, signingKey: SigningKey) {
        self.init(serverName: serverName, keys: PublishedKeys(signing: signingKey))
    }

    // MARK: Keys

    /// The key this server currently signs with.
    public var signingKey: SigningKey { state.withLock { $0.keys.signing } }

    /// The keys currently published.
    public var publishedKeys: PublishedKeys { state.withLock { $0.keys } }

    /// Replaces the published keys (key rotation, validity changes); later requests and events are
    /// signed with the new ``PublishedKeys/signing`` key.
    public func publish(_ keys: PublishedKeys) {
        state.withLock { $0.keys = keys }
    }

    /// The key document served now.
    public func keyDocument() throws(CanonicalJSONError) -> JSONObject {
        try publishedKeys.document(serverName: serverName, now: UnixMilliseconds.now())
    }

    /// Lets this server authenticate transactions from `server` signed with `keyID`.
    public func trust(server: String, keyID: String, publicKey: Ed25519PublicKey) {
        state.withLock { $0.trustedKeys[server, default: [:]][keyID] = publicKey }
    }

    // MARK: Counters

    /// How many times `GET /_matrix/key/v2/server` was answered since the server was created.
    public var keyRequestCount: Int { state.withLock { $0.keyRequestCount } }

    /// How many transactions were received since the server was created.
    public var transactionCount: Int { state.withLock { $0.transactionCount } }

    /// The transactions received (kept only while ``recordsTransactions`` is on).
    public var receivedTransactions: [ReceivedTransaction] { state.withLock { $0.transactions } }

    /// The make_leave/send_leave requests received (this server playing the homeserver of record
    /// behind the fleet's passthrough); each is answered 200 `{"answered_by": serverName}`.
    public var receivedLeaveRequests: [ReceivedLeaveRequest] { state.withLock { $0.leaveRequests } }

    /// Whether received transactions are kept in ``receivedTransactions`` (on by default; a load
    /// generator turns it off so that memory stays flat, and only counts them).
    public var recordsTransactions: Bool {
        get { state.withLock { $0.recordsTransactions } }
        set { state.withLock { $0.recordsTransactions = newValue } }
    }

    // MARK: Lifecycle

    /// The port the server listens on (or last listened on, while stopped); `nil` before the first start.
    public var port: Int? { state.withLock { $0.port } }

    /// `http://127.0.0.1:<port>`; `nil` before the first start.
    public var baseURL: String? { port.map { "http://127.0.0.1:\($0)" } }

    /// Whether the server is listening.
    public var isRunning: Bool { state.withLock { $0.running != nil } }

    /// Starts listening on 127.0.0.1. `port` nil means: the port of the previous run if there was
    /// one (a restart), else an ephemeral port. Returns the bound port. Starting a running server
    /// changes nothing.
    @discardableResult
    public func start(port requestedPort: Int? = nil) async throws -> Int {
        if let runningPort = state.withLock({ $0.running == nil ? nil : $0.port }) { return runningPort }
        let port = requestedPort ?? self.port ?? 0
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "simulated-homeserver.\(serverName)")
        logger.logLevel = .warning
        let application = Application(
            router: KeyServerRouter.make(for: self),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: serverName),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { continuation.yield(port) }
                continuation.finish()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [],
                                                      logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        for await boundPort in bound {
            state.withLock {
                $0.running = (group, task)
                $0.port = boundPort
            }
            return boundPort
        }
        // The server stopped before it was running: report why.
        try await task.value
        throw SimulatedHomeserverError.didNotStart(serverName: serverName, port: port)
    }

    /// Stops listening, closes every connection (after answering requests in progress) and waits
    /// until the port is released. Does nothing if not running.
    public func stop() async {
        let running = state.withLock { state in
            defer { state.running = nil }
            return state.running
        }
        guard let running else { return }
        await running.group.triggerGracefulShutdown()
        _ = try? await running.task.value
    }

    // MARK: Request handling (called by the router)

    func answerKeyRequest() throws(CanonicalJSONError) -> JSONObject {
        let keys = state.withLock { state -> PublishedKeys in
            state.keyRequestCount += 1
            return state.keys
        }
        return try keys.document(serverName: serverName, now: UnixMilliseconds.now())
    }

    func receiveLeaveRequest(_ request: ReceivedLeaveRequest) -> JSONObject {
        state.withLock { $0.leaveRequests.append(request) }
        return ["answered_by": .string(serverName)]
    }

    func receiveTransaction(id: String, method: String, uri: String, authorizationHeaders: [String],
                            body: JSONValue?) async {
        let (trusted, records) = state.withLock { state in
            if !state.recordsTransactions { state.transactionCount += 1 }
            return (state.trustedKeys, state.recordsTransactions)
        }
        // Counted only: nothing below would be kept, so it is not worked out.
        guard records else { return }
        let origin = authorizationHeaders.lazy.compactMap { try? XMatrixAuthorization.parse($0).origin }.first
        let authenticatedOrigin = try? await XMatrixRequest.authenticate(
            method: method, uri: uri, serverName: serverName, content: body,
            authorizationHeaders: authorizationHeaders,
            publicKey: { origin, keyID in trusted[origin]?[keyID] })
        let pdus = body?["pdus"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let transaction = ReceivedTransaction(transactionID: id, origin: origin,
                                              isAuthenticated: authenticatedOrigin != nil, pdus: pdus)
        state.withLock { state in
            state.transactionCount += 1
            state.transactions.append(transaction)
        }
    }
}

/// Why a simulated homeserver could not do what it was asked.
public enum SimulatedHomeserverError: Error, Equatable, CustomStringConvertible {
    /// The HTTP server ended before it was listening (e.g. the port was taken).
    case didNotStart(serverName: String, port: Int)

    public var description: String {
        switch self {
        case .didNotStart(let serverName, let port):
            return "simulated homeserver \(serverName) could not listen on 127.0.0.1:\(port)"
        }
    }
}
