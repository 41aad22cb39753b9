import Foundation
import Hummingbird
import HummingbirdTesting
import MatrixCore
import MatrixCrypto
import TestSupport
@testable import WorkerApp

/// The worker's real responder, built from settings by the same code as `serve`, driven in-process
/// through Hummingbird's router testing. Its database is unreachable (port 1): the routes tested
/// here answer before storage, and those that reach it answer 503.
enum ResponderFixture {
    static let serverName = "resident.test"

    /// Runs `body` against a responder built from `settings` (on top of the fixture's), after
    /// `configure` adjusted its dependencies; `.live` serves it on a loopback port over real HTTP.
    static func withClient(
        settings extra: [Settings.Variable: String] = [:],
        configure: (inout ResponderDependencies) -> Void = { _ in },
        mode: TestingSetup = .router,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("responder-\(UUID().uuidString).key")
        try PrivateFile.write(try SigningKey.generate(version: "rs1").keyFileLine + "\n", to: keyFile)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let base: [Settings.Variable: String] = [
            .serverName: serverName, .signingKey: keyFile.path, .databaseURL: "postgresql://127.0.0.1:1/nowhere?connect_timeout=1",
        ]
        let settings = Settings(environment: [:], overrides: base.merging(extra) { _, new in new })
        let runtime = try WorkerRuntime(settings: settings, requireSigningKey: true)
        do {
            var dependencies = try WorkerServer.dependencies(runtime, readiness: Readiness())
            configure(&dependencies)
            let app = Application(responder: FederationResponder(dependencies: dependencies))
            try await app.test(mode, body)
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
    }

    /// The JSON object of a response body (empty when it is not one).
    static func object(_ response: TestResponse) -> JSONObject {
        (try? JSONParser.parse(Array(response.body.readableBytesView)))?.objectValue ?? JSONObject()
    }

    /// An X-Matrix header whose origin is `origin` (its signature is not checked by these tests).
    static func authorization(origin: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = #"X-Matrix origin="\#(origin)",destination="\#(serverName)",key="ed25519:k1",sig="c2ln""#
        return headers
    }
}
