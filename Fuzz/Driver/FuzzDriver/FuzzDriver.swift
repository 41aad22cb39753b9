import CLibFuzzer
import FuzzProperties

#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer with this process's arguments on one target. SwiftPM gives each executable its
/// own `main`, so the fuzz executables call libFuzzer's driver themselves instead of relying on the
/// `main` of the fuzzer runtime.
public enum FuzzDriver {
    public static func run(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }
}
