@testable import LoadGen
import MatrixCrypto
import RemoteHomeserver

/// Runs members' make_leave + send_leave pairs through ``EncodedDriver`` (one connection,
/// one pair at a time) against a loopback target at `port`, as the load generator's `--mode pairs`
/// does: each member's make_leave is encoded and signed in advance by `remote1.test`.
enum EncodedPairs {
    static func run(userIDs: [String], roomID: String, port: Int, signer: EventSigner) async throws -> RunStatistics {
        let authority = "127.0.0.1:\(port)"
        let jobs = try userIDs.map { userID in
            var job = LeaveJob(roomID: roomID, userID: userID, server: "remote1.test")
            job.encoded = try EncodedRequest.makeLeave(roomID: roomID, userID: userID, signer: signer,
                                                       destination: "resident.test", authority: authority)
            return job
        }
        let driver = EncodedDriver(mode: .pairs, host: "127.0.0.1", port: port, authority: authority,
                                   destination: "resident.test", signers: ["remote1.test": signer],
                                   counters: LiveCounters())
        return await driver.run(queue: JobQueue(jobs: jobs, limit: nil, deadline: nil), concurrency: 1)
    }
}
