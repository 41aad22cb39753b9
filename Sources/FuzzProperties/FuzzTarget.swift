/// The fuzz targets: each checks the properties of one parser (or pipeline) on arbitrary bytes.
/// `Fuzz/` builds one libFuzzer executable per case; `FuzzReplayTests` runs the corpus of each
/// case (`Fuzz/corpus/<rawValue>/`) through the same ``check(_:)``.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// ``JSONProperties``: the strict JSON parser.
    case json
    /// ``CanonicalProperties``: canonical JSON encoding round trip.
    case canonical
    /// ``XMatrixProperties``: the X-Matrix `Authorization` header parser.
    case xmatrix
    /// ``IdentifierProperties``: user, room and event IDs, server names, IP literals.
    case identifiers
    /// ``PDUProperties``: PDU format, hashes, redaction and auth rules on one room version.
    case pdu

    /// Checks every property of this target on `input`.
    public func check(_ input: [UInt8]) throws(PropertyViolation) {
        switch self {
        case .json: try JSONProperties.check(input)
        case .canonical: try CanonicalProperties.check(input)
        case .xmatrix: try XMatrixProperties.check(input)
        case .identifiers: try IdentifierProperties.check(input)
        case .pdu: try PDUProperties.check(input)
        }
    }

    /// The body of `LLVMFuzzerTestOneInput`: a violated property stops the process, which libFuzzer
    /// reports as a crash and saves the input for.
    public func runLibFuzzerInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try check(input)
        } catch {
            fatalError("fuzz target \(rawValue): \(error)")
        }
        return 0
    }
}
