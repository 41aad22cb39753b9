import CResolv

/// One DNS SRV record (RFC 2782).
public struct SRVRecord: Sendable, Equatable {
    public let priority: UInt16
    public let weight: UInt16
    public let port: Int
    /// The target host name, without the trailing dot.
    public let target: String

    public init(priority: UInt16, weight: UInt16, port: Int, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }

    /// The record to use: lowest priority, then highest weight (deterministic rather than RFC 2782's
    /// weighted random choice: a worker sends a server few requests and retries the whole request).
    static func preferred(_ records: [SRVRecord]) -> SRVRecord? {
        records.min { ($0.priority, UInt16.max - $0.weight) < ($1.priority, UInt16.max - $1.weight) }
    }

    /// The SRV records in the answer section of a DNS response message. Malformed messages and
    /// records give an empty or shorter list; a target of `.` ("no such service") is left out.
    public static func parse(response: [UInt8]) -> [SRVRecord] {
        response.withUnsafeBufferPointer { buffer -> [SRVRecord] in
            guard let base = buffer.baseAddress, buffer.count <= Int(Int32.max) else { return [] }
            var message = ns_msg()
            guard ns_initparse(base, Int32(buffer.count), &message) == 0 else { return [] }
            let count = cresolv_section_count(&message, ns_s_an)
            var records: [SRVRecord] = []
            for index in 0..<max(0, count) {
                var record = ns_rr()
                guard ns_parserr(&message, ns_s_an, Int32(index), &record) == 0,
                      record.type == UInt16(ns_t_srv.rawValue),
                      let parsed = srvRecord(rdata: record.rdata, length: Int(record.rdlength),
                                             messageStart: base, messageEnd: base + buffer.count)
                else { continue }
                records.append(parsed)
            }
            return records
        }
    }

    /// Decodes SRV RDATA: priority, weight and port (16 bits each), then the (possibly compressed) target.
    private static func srvRecord(
        rdata: UnsafePointer<UInt8>?, length: Int,
        messageStart: UnsafePointer<UInt8>, messageEnd: UnsafePointer<UInt8>
    ) -> SRVRecord? {
        guard let rdata, length > 6, rdata + length <= messageEnd else { return nil }
        func uint16(at offset: Int) -> UInt16 { UInt16(rdata[offset]) << 8 | UInt16(rdata[offset + 1]) }
        var name = [CChar](repeating: 0, count: Int(NS_MAXDNAME))
        let used = dn_expand(messageStart, messageEnd, rdata + 6, &name, Int32(name.count))
        guard used > 0, used <= length - 6 else { return nil }
        let target = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = Int(uint16(at: 4))
        guard !target.isEmpty, target != ".", port > 0 else { return nil }
        return SRVRecord(priority: uint16(at: 0), weight: uint16(at: 2), port: port,
                         target: target.hasSuffix(".") ? String(target.dropLast()) : target)
    }
}
