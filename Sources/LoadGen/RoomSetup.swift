import MatrixCore
import RemoteHomeserver
import WorkerApp

/// Builds the rooms of a load run (members on the played servers, created by the resident
/// server) and imports them through the code path of `leave-worker rooms import`.
struct RoomSetup: Sendable {
    let version: RoomVersion
    let resident: EventSigner
    let remotes: [EventSigner]
    let rooms: Int
    let membersPerRoom: Int
    let settings: Settings

    /// Builds and imports every room; returns the leave jobs, interleaved across rooms so that
    /// consecutive leaves go to different rooms.
    func prepare(log: (String) -> Void) async throws -> (jobs: [LeaveJob], rooms: [BuiltRoom]) {
        let runTag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let eventsPerRoom = Int64(membersPerRoom + 8)
        let firstTimestamp = UnixMilliseconds.now() - Int64(rooms) * eventsPerRoom
        var slots = [BuiltRoom?](repeating: nil, count: rooms)
        let start = ContinuousClock.now
        // Two rooms at a time: one is built (generator CPU) while the other is imported (Postgres).
        try await withThrowingTaskGroup(of: (Int, BuiltRoom).self) { group in
            for index in 0..<rooms {
                if index >= 2, let (done, room) = try await group.next() { slots[done] = room }
                group.addTask { (index, try await self.buildAndImport(index, runTag: runTag, firstTimestamp: firstTimestamp,
                                                                      eventsPerRoom: eventsPerRoom)) }
            }
            for try await (index, room) in group { slots[index] = room }
        }
        let built = slots.compactMap { $0 }
        log("imported \(rooms) rooms of \(membersPerRoom) members (room version \(version.id)) in "
            + "\(LoadReport.format(Self.seconds(ContinuousClock.now - start), 1)) s")
        var jobs: [LeaveJob] = []
        jobs.reserveCapacity(rooms * membersPerRoom)
        let membersByRoom = built.map { room in
            room.users(withMembership: "join").filter { $0 != room.adminUserID }
        }
        for position in 0..<membersPerRoom {
            for (room, members) in zip(built, membersByRoom) where position < members.count {
                let userID = members[position]
                jobs.append(LeaveJob(roomID: room.roomID, userID: userID, server: UserID(userID)?.server ?? ""))
            }
        }
        return (jobs, built)
    }

    private func buildAndImport(_ index: Int, runTag: String, firstTimestamp: Int64, eventsPerRoom: Int64)
        async throws -> BuiltRoom
    {
        let members = PlannedMember.generate(count: membersPerRoom, membership: .join,
                                             servers: remotes.map(\.serverName), localpartPrefix: "member")
        let builder = RoomBuilder(version: version, resident: resident, remotes: remotes, members: members,
                                  roomLocalpart: "loadgen-\(runTag)-\(index)",
                                  firstTimestamp: firstTimestamp + Int64(index) * eventsPerRoom)
        let room: BuiltRoom
        do {
            room = try builder.build()
        } catch {
            throw LoadGenError.setupFailed("building room \(index): \(error)")
        }
        do {
            _ = try await Operations.importRoom(settings: settings, bytes: room.importBytes())
        } catch {
            throw LoadGenError.setupFailed("importing \(room.roomID): \(error)")
        }
        return room
    }

    /// Signs every job's leave in advance (send-only mode), from the template make_leave would
    /// give right after the import.
    func presign(_ jobs: [LeaveJob], rooms: [BuiltRoom]) async throws -> [LeaveJob] {
        let roomsByID = Dictionary(uniqueKeysWithValues: rooms.map { ($0.roomID, $0) })
        let signers = Dictionary(uniqueKeysWithValues: remotes.map { ($0.serverName, $0) })
        let now = UnixMilliseconds.now()
        return try await ConcurrentMap.map(jobs) { job in
            guard let room = roomsByID[job.roomID], let signer = signers[job.server] else {
                throw LoadGenError.setupFailed("no room or server for \(job.userID)")
            }
            var signed = job
            signed.presigned = try signer.signLeave(template: room.leaveTemplate(userID: job.userID, originServerTS: now),
                                                    version: room.version, roomID: room.roomID, userID: job.userID)
            return signed
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
