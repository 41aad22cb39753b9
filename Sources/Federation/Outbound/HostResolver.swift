#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into addresses. The system resolver (`getaddrinfo`) by default; tests inject
/// their own answers (there is no DNS in the test environment).
public struct HostResolver: Sendable {
    /// The addresses of a host name; empty when it has none or the look-up failed or timed out.
    public let resolve: @Sendable (_ host: String) async -> [IPAddress]

    public init(resolve: @escaping @Sendable (_ host: String) async -> [IPAddress]) {
        self.resolve = resolve
    }

    /// `getaddrinfo` on one of the running task's ``LookUpThreads`` (``LookUpThreads/current``;
    /// never on an event loop or a Swift concurrency thread), abandoned after `timeout` (the
    /// blocking call then finishes on its own and is ignored).
    public static func system(timeout: Duration = .seconds(5)) -> HostResolver {
        onLookUpThreads(timeout: timeout, lookUp)
    }

    /// A resolver whose blocking `lookUp` runs as ``system(timeout:)``'s `getaddrinfo` does: on one
    /// of the running task's ``LookUpThreads``, abandoned after `timeout`. Tests give their own
    /// answers this way while the look-up still takes the threads the real one would.
    public static func onLookUpThreads(
        timeout: Duration = .seconds(5), _ lookUp: @escaping @Sendable (_ host: String) -> [IPAddress]
    ) -> HostResolver {
        HostResolver { host in await LookUpThreads.current.run(timeout: timeout, fallback: []) { lookUp(host) } }
    }

    /// The TCP addresses `getaddrinfo` gives for `host`, in its order, without duplicates.
    private static func lookUp(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let entry = cursor?.pointee {
            cursor = entry.ai_next
            guard let socketAddress = entry.ai_addr else { continue }
            let address: IPAddress?
            switch entry.ai_family {
            case AF_INET:
                address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { IPAddress(bytes: Array($0)) }
                }
            case AF_INET6:
                address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { IPAddress(bytes: Array($0)) }
                }
            default:
                address = nil
            }
            if let address, !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }
}
