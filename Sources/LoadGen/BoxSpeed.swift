import MatrixCrypto

/// How fast this machine is when a run starts, so that runs of different sessions can be read
/// together (this project's 2-core VM moves by up to 2× between days and ±10 % within minutes): the
/// mean wall-clock time of one Ed25519 verification of a 600-byte message — the libsodium call a
/// worker makes twice per send_leave, a third of its CPU — over a short loop on one core, taken
/// while the target is idle (before the clock starts).
enum BoxSpeed {
    /// Microseconds per verification, over `iterations` (≈ 0.1 s at the usual 50–60 µs); each
    /// verification must succeed, so a broken key or loop cannot report a fast machine.
    static func ed25519VerifyMicroseconds(iterations: Int = 2_000) throws -> Double {
        let key = try Ed25519PrivateKey.generate()
        let message = [UInt8]((0..<600).map { UInt8(truncatingIfNeeded: $0) })
        let signature = key.signature(for: message)
        var verified = 0
        let elapsed = ContinuousClock().measure {
            for _ in 0..<iterations where key.publicKey.isValidSignature(signature, for: message) { verified += 1 }
        }
        guard verified == iterations else {
            throw LoadGenError.setupFailed("box calibration: \(iterations - verified) of \(iterations) Ed25519 verifications failed")
        }
        let (seconds, attoseconds) = elapsed.components
        return (Double(seconds) + Double(attoseconds) / 1e18) / Double(iterations) * 1e6
    }
}
