/// Keeps the load generator on this machine unless told otherwise: a target must be a loopback
/// address (127.0.0.0/8, `localhost`, `[::1]`) unless `--allow-remote` is given.
enum TargetPolicy {
    /// The target's base URL without a trailing slash, after the loopback check.
    static func check(_ target: String, allowRemote: Bool) throws(LoadGenError) -> String {
        guard let host = host(of: target) else { throw .invalidTarget(target) }
        guard allowRemote || isLoopback(host) else { throw .remoteTargetRefused(target) }
        return target.hasSuffix("/") ? String(target.dropLast()) : target
    }

    /// The host part of `http(s)://host[:port][/…]` (IPv6 with its brackets), or nil.
    static func host(of url: String) -> String? {
        let rest: Substring
        if url.hasPrefix("http://") {
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            return String(authority[...close])
        }
        let host = authority.prefix { $0 != ":" }
        return host.isEmpty ? nil : String(host)
    }

    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "[::1]" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { octet in
            !octet.isEmpty && octet.count <= 3 && octet.allSatisfy(\.isASCIIDigit) && (Int(octet) ?? 256) <= 255
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
