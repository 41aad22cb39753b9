@testable import Forwarding
import Testing

struct SenderConfigurationTests {
    @Test func defaultsWhenNothingIsSet() throws {
        let configuration = try SenderConfiguration(environment: ["LEAVE_WORKER_SENDER_UNRELATED": "x"])
        #expect(configuration.isEnabled)
        #expect(configuration.lease == .seconds(30))
        #expect(configuration.requestTimeout == .seconds(15))
        #expect(configuration.pollInterval == .seconds(5))
        #expect(configuration.backoff.base == .seconds(1))
        #expect(configuration.backoff.maximum == .seconds(600))
        #expect(configuration.batchSize == 50)
        #expect(configuration.maximumConcurrentDestinations == 32)
    }

    @Test func everyVariableIsRead() throws {
        let configuration = try SenderConfiguration(environment: [
            "LEAVE_WORKER_SENDER": "off", "LEAVE_WORKER_SENDER_LEASE_MS": "4000", "LEAVE_WORKER_SENDER_TIMEOUT_MS": "1500",
            "LEAVE_WORKER_SENDER_POLL_MS": "200", "LEAVE_WORKER_SENDER_BACKOFF_BASE_MS": "250",
            "LEAVE_WORKER_SENDER_BACKOFF_MAX_MS": "1000", "LEAVE_WORKER_SENDER_CONCURRENCY": "3",
        ])
        #expect(!configuration.isEnabled)
        #expect(configuration.lease == .seconds(4))
        #expect(configuration.requestTimeout == .milliseconds(1500))
        #expect(configuration.pollInterval == .milliseconds(200))
        #expect(configuration.backoff.base == .milliseconds(250))
        #expect(configuration.backoff.maximum == .seconds(1))
        #expect(configuration.maximumConcurrentDestinations == 3)
    }

    @Test func theRequestTimeoutFollowsTheLeaseUnlessSet() throws {
        #expect(try SenderConfiguration(environment: ["LEAVE_WORKER_SENDER_LEASE_MS": "3000"]).requestTimeout == .milliseconds(1500))
    }

    @Test(arguments: [
        ["LEAVE_WORKER_SENDER": "yes"],
        ["LEAVE_WORKER_SENDER_LEASE_MS": "999"],
        ["LEAVE_WORKER_SENDER_LEASE_MS": "30s"],
        ["LEAVE_WORKER_SENDER_LEASE_MS": "99999999999999999999"],
        ["LEAVE_WORKER_SENDER_LEASE_MS": "2000", "LEAVE_WORKER_SENDER_TIMEOUT_MS": "2000"],
        ["LEAVE_WORKER_SENDER_TIMEOUT_MS": "40000"],
        ["LEAVE_WORKER_SENDER_POLL_MS": "-5"],
        ["LEAVE_WORKER_SENDER_BACKOFF_BASE_MS": "5000", "LEAVE_WORKER_SENDER_BACKOFF_MAX_MS": "4000"],
        ["LEAVE_WORKER_SENDER_CONCURRENCY": "0"],
    ])
    func malformedOrInconsistentValuesAreRefusedByName(environment: [String: String]) {
        #expect {
            _ = try SenderConfiguration(environment: environment)
        } throws: { error in
            let description = (error as? SenderConfiguration.Problem)?.description ?? ""
            return environment.keys.contains { description.contains($0) }
        }
    }
}
