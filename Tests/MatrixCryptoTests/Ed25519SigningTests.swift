import MatrixCore
@testable import MatrixCrypto
import XCTest

/// Messages from `Ed25519PrivateKey.longMessageBytes` on are signed through OpenSSL, shorter ones
/// through libsodium: either way the signature is the same deterministic Ed25519 signature.
final class Ed25519SigningTests: XCTestCase {
    func testOpenSSLAndLibsodiumGiveTheSameSignatureOnBothSidesOfTheThreshold() throws {
        var random = SeededRandom(seed: 25519)
        let threshold = Ed25519PrivateKey.longMessageBytes
        for _ in 0..<3 {
            let key = try Ed25519PrivateKey(seed: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
            for length in [0, 1, 600, threshold - 1, threshold, 40_000] {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                let sodium = key.libsodiumSignature(for: message)
                XCTAssertEqual(key.openSSLSignature(for: message), sodium, "\(length) bytes")
                XCTAssertEqual(key.signature(for: message), sodium, "\(length) bytes")
                XCTAssertTrue(key.publicKey.isValidSignature(sodium, for: message))
            }
        }
    }

    /// The independent implementation's `json_signing` vectors: OpenSSL's signature of each signing
    /// input is the vector's.
    func testOpenSSLSignsTheSigningVectors() throws {
        for vector in try VectorFile.objects("json_signing", in: try VectorFile.load("signing")) {
            let key = try VectorFile.signingKey(vector)
            let input = Array(try VectorFile.string("signing_input_canonical", in: vector).utf8)
            let signature = try XCTUnwrap(key.privateKey.openSSLSignature(for: input))
            XCTAssertEqual(Base64.encodeUnpadded(signature), try VectorFile.string("signature", in: vector))
        }
    }
}
