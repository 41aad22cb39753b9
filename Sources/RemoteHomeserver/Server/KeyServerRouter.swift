import Hummingbird
import Foundation
import MatrixCore
import NIOCore

/// The routes a ``SimulatedHomeserver`` serves: its key document, incoming transactions, and
/// make_leave/send_leave as the homeserver of record behind the fleet's passthrough.
enum KeyServerRouter {
    /// The largest transaction body accepted (the spec allows 50 PDUs of 64 KiB, plus EDUs).
    static let maxTransactionBytes = 8 << 20

    static func make(for server: SimulatedHomeserver) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/_matrix/key/v2/server") { _, _ -> Response in
            do {
                return json(.ok, try server.answerKeyRequest().compactBytes())
            } catch {
                return json(.internalServerError, error: "M_UNKNOWN", "\(error)")
            }
        }
        router.put("/_matrix/federation/v1/send/:txnId") { request, context -> Response in
            let rawID = context.parameters.get("txnId") ?? ""
            let transactionID = rawID.removingPercentEncoding ?? rawID
            let buffer = try await request.body.collect(upTo: maxTransactionBytes)
            let body = try? JSONParser.parse(buffer.readableBytesView,
                                             limits: .init(maxBytes: maxTransactionBytes))
            guard let body, body.objectValue != nil else {
                return json(.badRequest, error: "M_NOT_JSON", "transaction body is not a JSON object")
            }
            await server.receiveTransaction(
                id: transactionID, method: "PUT", uri: request.head.path ?? request.uri.description,
                authorizationHeaders: request.headers[values: .authorization], body: body)
            var results = JSONObject()
            for pdu in body["pdus"]?.arrayValue ?? [] {
                if let eventID = pdu["event_id"]?.stringValue { results[eventID] = .object(JSONObject()) }
            }
            return json(.ok, (["pdus": .object(results)] as JSONObject).compactBytes())
        }
        // As the homeserver of record behind the fleet's passthrough: record and answer.
        let leave: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await request.body.collect(upTo: maxTransactionBytes)
            let answer = server.receiveLeaveRequest(ReceivedLeaveRequest(
                method: request.method.rawValue, target: request.head.path ?? request.uri.description,
                authorization: request.headers[values: .authorization], body: Array(body.readableBytesView)))
            return json(.ok, answer.compactBytes())
        }
        router.get("/_matrix/federation/v1/make_leave/:roomId/:userId", use: leave)
        router.put("/_matrix/federation/:apiVersion/send_leave/:roomId/:eventId", use: leave)
        return router
    }

    private static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func json(_ status: HTTPResponse.Status, error errcode: String, _ message: String) -> Response {
        json(status, (["errcode": .string(errcode), "error": .string(message)] as JSONObject).compactBytes())
    }
}
