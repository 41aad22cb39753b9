import CLibPQ

/// LISTEN/NOTIFY on a connection dedicated to it (see `PostgresListener`).
extension PostgresConnection {
    /// Subscribes to each channel (names are quoted, so case and spaces are kept).
    func listen(to channels: [String]) throws(PostgresError) {
        let script = channels.map { "LISTEN \(Self.quotedIdentifier($0));" }.joined(separator: " ")
        try execute(script: script)
    }

    /// What waiting for notifications ended with.
    enum NotificationWait {
        /// Notifications arrived (possibly none: other input such as a notice).
        case received([PostgresNotification])
        /// `wakeDescriptor` became readable.
        case woken
        /// The connection broke.
        case disconnected
    }

    /// Blocks until the server sends something or `wakeDescriptor` becomes readable.
    func waitForNotifications(wakeDescriptor: Int32) -> NotificationWait {
        switch SocketPoll.waitReadable([PQsocket(handle), wakeDescriptor], timeoutMilliseconds: -1) {
        case .readable(let descriptors) where descriptors.contains(wakeDescriptor):
            return .woken
        case .readable:
            break
        case .timedOut, .failed:
            return .disconnected
        }
        guard PQconsumeInput(handle) != 0 else { return .disconnected }
        var notifications: [PostgresNotification] = []
        while let notice = PQnotifies(handle) {
            notifications.append(PostgresNotification(
                channel: String(cString: notice.pointee.relname),
                payload: String(cString: notice.pointee.extra),
                senderProcessID: notice.pointee.be_pid))
            PQfreemem(notice)
        }
        return isConnected ? .received(notifications) : .disconnected
    }

    /// `"name"` with inner double quotes doubled.
    static func quotedIdentifier(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            quoted.append(character)
            if character == "\"" { quoted.append("\"") }
        }
        return quoted + "\""
    }
}

/// One NOTIFY received on a LISTENed channel.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let senderProcessID: Int32

    public init(channel: String, payload: String, senderProcessID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderProcessID = senderProcessID
    }
}
