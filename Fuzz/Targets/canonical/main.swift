import FuzzDriver
import FuzzProperties

// libFuzzer on the `canonical` target's properties (see FuzzTarget.canonical).
FuzzDriver.run { data, size in FuzzTarget.canonical.runLibFuzzerInput(data, size) }
