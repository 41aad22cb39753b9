import Foundation
import MatrixCore
import RemoteHomeserver
import TestSupport

/// A bridged worker (internal listener, token) and one version-10 room it holds with carol joined,
/// imported, which a played homeserver of record holds too: the start of the tests that race the
/// homeserver's pushes against the fleet's leaves.
struct BridgedRoom {
    let fixture: ResidentFixture
    let worker: WorkerProcess
    let internalURL: String
    let room: BuiltRoom
    let homeserver: HomeserverOfRecord
    private let tokenFile: URL

    init(label: String) async throws {
        fixture = try await ResidentFixture()
        let (token, tokenFile) = try HomeserverBridgeTests.makeToken()
        self.tokenFile = tokenFile
        (worker, internalURL) = try await fixture.startBridgedWorker(tokenFile: tokenFile)
        room = try fixture.buildRoom(
            version: "10", members: [PlannedMember(userID: HomeserverBridgeTests.carol, membership: .join)], label: label)
        try await fixture.importRoom(room)
        homeserver = HomeserverOfRecord(token: token)
        await homeserver.hold(room)
    }

    /// Appends the events `change` makes to the homeserver's copy of the room, and pushes them.
    func push(_ change: @Sendable (inout RecordRoom) throws -> Void) async throws -> (status: Int, body: JSONValue?) {
        try await homeserver.update(room.roomID, change)
        return try await homeserver.push(room.roomID, to: internalURL)
    }

    /// `userID` leaves through the fleet (make_leave, signed, send_leave), unknown to the homeserver.
    func leaveThroughTheFleet(_ userID: String) async throws {
        _ = try await HomeserverBridgeTests.leave(userID, room: room.roomID, fixture: fixture, worker: worker)
    }

    /// Stops the worker and removes the token file (for a `defer`; the test shuts the fixture down).
    func stopWorker() {
        worker.stop()
        try? FileManager.default.removeItem(at: tokenFile)
    }
}
