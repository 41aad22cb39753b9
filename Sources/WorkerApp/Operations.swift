import Foundation
import LeaveService
import MatrixCore
import MatrixCrypto
import Postgres
import Storage

/// The operator commands other than `serve`: each takes the settings and returns what the command
/// prints, so the CLI stays a thin shell and tests can call the same code.
public enum Operations {
    /// `migrate`: applies pending migrations; returns the names applied (empty when up to date).
    public static func migrate(settings: Settings) async throws -> [String] {
        let migrator = try Migrator(directory: try SQLDirectory.resolve(settings))
        return try await withPool(settings, direct: true) { pool in try await migrator.migrate(pool: pool) }
    }

    /// `generate-key`: a new key-file line; `version` defaults to a random `a_XXXX`.
    public static func generateKeyLine(version: String?) throws -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let chosen = version ?? "a_" + String((0..<4).map { _ in alphabet.randomElement()! })
        guard SigningKey.isValidVersion(chosen) else {
            throw Settings.Problem(description: "--key-id must match [a-zA-Z0-9_]+, got '\(chosen)'")
        }
        return try SigningKey.generate(version: chosen).keyFileLine
    }

    /// `rooms members ROOM_ID`: the members as a JSON array.
    public static func members(settings: Settings, roomID: String) async throws -> String {
        let members = try await withPool(settings) { pool in try await RoomStore(pool: pool).members(roomID: roomID) }
        let array = JSONValue.array(members.map { member in
            ["user_id": .string(member.userID), "membership": .string(member.membership), "event_id": .string(member.eventID)]
        })
        return String(decoding: array.compactBytes(), as: UTF8.self)
    }

    /// `rooms import FILE`: checks every event and stores the room; returns the JSON summary.
    public static func importRoom(settings: Settings, bytes: [UInt8]) async throws -> String {
        let runtime = try WorkerRuntime(settings: settings, requireSigningKey: false)
        do {
            let summary = try await runtime.leaves.importer.importRoom(bytes)
            await runtime.shutdown()
            return String(decoding: summary.json.compactBytes(), as: UTF8.self)
        } catch {
            await runtime.shutdown()
            throw error
        }
    }

    /// `direct`: on the server itself (`LEAVE_WORKER_DATABASE_DIRECT_URL`), for work that needs one session.
    private static func withPool<T: Sendable>(_ settings: Settings, direct: Bool = false,
                                              _ body: (PostgresPool) async throws -> T) async throws -> T {
        let configuration = direct ? PostgresConfiguration(url: settings.databaseDirectURL, poolSize: 2)
                                   : settings.databaseConfiguration(poolSize: 2)
        let pool = PostgresPool(configuration: configuration)
        do {
            let result = try await body(pool)
            await pool.close()
            return result
        } catch {
            await pool.close()
            throw error
        }
    }
}
