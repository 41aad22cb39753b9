import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

extension PostgresConnection {
    /// The `options` connection parameter: our defaults, the URL's own `options`, then `parameters`
    /// (the server applies `-c` settings in order, so a later one wins).
    static func options(url: String, parameters: [(name: String, value: String)]) -> String {
        // Every statement is prepared once per connection and run with a generic plan. The
        // project's statements look rows up by their whole primary key (Storage's
        // EventColumns), so a generic plan is as good as a custom one; planning afresh on each
        // execution (what `auto` does while custom plans look cheaper) cost about 15 % of
        // Postgres' CPU per send_leave (measured: 1,099 → 1,305 leaves/s, send-only, c16).
        // No JIT: it pays off for long analytic queries only; for these short statements a plan
        // whose cost estimate passed jit_above_cost spent ~10 % of Postgres' CPU in LLVM
        // compiling it on every execution.
        var options = ["-c plan_cache_mode=force_generic_plan", "-c jit=off"]
        if let parsed = PQconninfoParse(url, nil) {
            defer { PQconninfoFree(parsed) }
            var option = parsed
            while let keyword = option.pointee.keyword {
                if strcmp(keyword, "options") == 0, let value = option.pointee.val { options.append(String(cString: value)) }
                option += 1
            }
        }
        options += parameters.map { "-c \($0.name)=\($0.value)" }
        return options.joined(separator: " ")
    }
}
