import MatrixCore
import MatrixCrypto
import TestSupport
import XCTest

/// Reading the shared vector files: typed access that fails the test (never traps) on a bad file.
enum VectorFile {
    static func load(_ name: String) throws -> JSONObject {
        try XCTUnwrap(try JSONParser.parse(try Vectors.bytes(name)).objectValue, "\(name).json is not an object")
    }

    static func objects(_ name: String, in file: JSONObject) throws -> [JSONObject] {
        let group = try XCTUnwrap(file[name]?.arrayValue, "missing group \(name)")
        XCTAssertFalse(group.isEmpty, "empty group \(name)")
        return try group.map { try XCTUnwrap($0.objectValue, "\(name) holds a non-object") }
    }

    static func object(_ name: String, in object: JSONObject) throws -> JSONObject {
        try XCTUnwrap(object[name]?.objectValue, "missing object \(name)")
    }

    static func string(_ name: String, in object: JSONObject) throws -> String {
        try XCTUnwrap(object[name]?.stringValue, "missing string \(name)")
    }

    static func integer(_ name: String, in object: JSONObject) throws -> Int64 {
        try XCTUnwrap(object[name]?.integerValue, "missing integer \(name)")
    }

    /// The signing key a vector describes with `key_id` and `seed_unpadded_base64`.
    static func signingKey(_ vector: JSONObject) throws -> SigningKey {
        let keyID = try string("key_id", in: vector)
        XCTAssertTrue(keyID.hasPrefix("ed25519:"), keyID)
        let seed = try XCTUnwrap(Base64.decode(try string("seed_unpadded_base64", in: vector)))
        return try SigningKey(version: String(keyID.dropFirst("ed25519:".count)), seed: seed)
    }

    /// The public key a vector gives as `public_key_unpadded_base64`.
    static func publicKey(_ vector: JSONObject) throws -> Ed25519PublicKey {
        try Ed25519PublicKey(bytes: try XCTUnwrap(Base64.decode(try string("public_key_unpadded_base64", in: vector))))
    }
}
