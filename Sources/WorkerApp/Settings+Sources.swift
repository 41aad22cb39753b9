import Federation
import Forwarding
import Foundation
import MatrixCrypto

/// The settings that name files or structured values: parsed here, once per command, so that no
/// other code reads the environment or these files.
extension Settings {
    /// This server's signing keys, current first (`LEAVE_WORKER_SIGNING_KEY`), or nil when the
    /// variable is unset and `required` is false.
    public func signingKeys(required: Bool) throws(Problem) -> [SigningKey]? {
        guard let path = values[.signingKey] else {
            guard !required else {
                throw Problem(description: "\(Variable.signingKey.rawValue) is required (path of the signing-key file)")
            }
            return nil
        }
        return try SigningKeyFile.read(path: path)
    }

    /// This server's current signing key (the key file's first line); the file is required.
    public func currentSigningKey() throws(Problem) -> SigningKey {
        guard let key = try signingKeys(required: true)?.first else {
            throw Problem(description: "\(Variable.signingKey.rawValue) names a file without keys")
        }
        return key
    }

    /// The keys published as `old_verify_keys` (`LEAVE_WORKER_OLD_SIGNING_KEYS`; none when unset).
    public var oldSigningKeys: [OldVerifyKey] {
        get throws(Problem) {
            guard let path = values[.oldSigningKeys] else { return [] }
            do {
                return try OldVerifyKey.parseKeyFile(try String(contentsOfFile: path, encoding: .utf8))
            } catch {
                throw Problem(description: "\(Variable.oldSigningKeys.rawValue): cannot read old signing keys \(path): \(error)")
            }
        }
    }

    /// Where to reach named servers instead of discovery (`LEAVE_WORKER_FEDERATION_OVERRIDES`).
    public var federationOverrides: FederationOverrides {
        get throws(Problem) {
            do {
                return try FederationOverrides.parse(values[.federationOverrides] ?? "")
            } catch {
                throw Problem(description: "\(Variable.federationOverrides.rawValue): \(error)")
            }
        }
    }

    /// The federation sender's configuration (`LEAVE_WORKER_SENDER*`).
    public var sender: SenderConfiguration {
        get throws(Problem) {
            do {
                return try SenderConfiguration { variable in Variable(rawValue: variable.rawValue).flatMap { values[$0] } }
            } catch {
                throw Problem(description: error.description)
            }
        }
    }
}
