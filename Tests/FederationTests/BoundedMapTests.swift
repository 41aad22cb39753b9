import BoundedCollections
@testable import Federation
import MatrixCore
import Testing

/// The bounded maps under the caches, the fetch slots and the `.well-known` redirect rules.
@Suite struct BoundedMapTests {
    @Test func lruEvictsTheLeastRecentlyUsedEntryAndStaysBounded() {
        var lru = BoundedLRU<Int, String>(capacity: 3)
        #expect(lru.set("a", for: 1) == nil)
        lru.set("b", for: 2)
        lru.set("c", for: 3)
        #expect(lru.value(for: 1) == "a")       // 1 is now the most recently used
        let evicted = lru.set("d", for: 4)
        #expect(evicted?.key == 2 && evicted?.value == "b")
        #expect(lru.peek(2) == nil && lru.peek(1) == "a" && lru.count == 3)
        #expect(lru.remove(3) == "c")
        lru.set("e", for: 5)
        #expect(lru.count == 3)
        #expect(lru.set("f", for: 6)?.key == 1)
    }

    @Test func lruAgreesWithAReferenceModelOverManyOperations() {
        var lru = BoundedLRU<Int, Int>(capacity: 8)
        var model: [(key: Int, value: Int)] = []   // most recent last
        var seed: UInt64 = 42
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33)
        }
        for step in 0..<20_000 {
            let key = next() % 20
            switch next() % 4 {
            case 0:
                let got = lru.value(for: key)
                if let index = model.firstIndex(where: { $0.key == key }) {
                    let entry = model.remove(at: index)
                    model.append(entry)
                    #expect(got == entry.value)
                } else {
                    #expect(got == nil)
                }
            case 1:
                let evicted = lru.set(step, for: key)
                if let index = model.firstIndex(where: { $0.key == key }) {
                    model.remove(at: index)
                    #expect(evicted == nil)
                } else if model.count == 8 {
                    #expect(evicted?.key == model.removeFirst().key)
                }
                model.append((key, step))
            case 2:
                let oldest = lru.removeLeastRecentlyUsed()
                if model.isEmpty {
                    #expect(oldest == nil)
                } else {
                    let expected = model.removeFirst()
                    #expect(oldest?.key == expected.key && oldest?.value == expected.value)
                }
            default:
                let removed = lru.remove(key)
                if let index = model.firstIndex(where: { $0.key == key }) {
                    #expect(removed == model.remove(at: index).value)
                } else {
                    #expect(removed == nil)
                }
            }
            #expect(lru.count == model.count)
        }
    }

    @Test func fetchSlotsBoundConcurrencyAndTimeOut() async {
        let slots = FetchSlots(limit: 2)
        #expect(await slots.acquire(wait: .milliseconds(10)))
        #expect(await slots.acquire(wait: .milliseconds(10)))
        #expect(await !slots.acquire(wait: .milliseconds(50)))   // full: gives up
        async let waiting = slots.acquire(wait: .seconds(30))
        try? await Task.sleep(for: .milliseconds(50))
        slots.release()                                          // handed to the waiter
        #expect(await waiting)
        #expect(await !slots.acquire(wait: .milliseconds(20)))
        slots.release()
        slots.release()
        #expect(await slots.acquire(wait: .milliseconds(10)))
    }

    @Test func wellKnownRedirectsStayOnHTTPS() throws {
        let start = WellKnownDelegation.URL(authority: try #require(ServerName("example.org")), path: WellKnownDelegation.path)
        #expect(start.text == "https://example.org/.well-known/matrix/server")
        #expect(start.redirect(location: "https://other.example:8443/mx")?.text == "https://other.example:8443/mx")
        #expect(start.redirect(location: "//other.example/x")?.text == "https://other.example/x")
        #expect(start.redirect(location: "/elsewhere")?.text == "https://example.org/elsewhere")
        #expect(start.redirect(location: "https://127.0.0.1:8448/")?.host == "127.0.0.1")   // checked when connecting
        for refused in ["http://example.org/.well-known/matrix/server", "HTTP://x.org/", "ftp://x.org/", "file:///etc/passwd",
                        "relative/path", "https://user@x.org/", "https://x.org:99999/", "", "https://x .org/"] {
            #expect(start.redirect(location: refused) == nil, "\(refused)")
        }
        #expect(start.redirect(location: nil) == nil)
    }
}
