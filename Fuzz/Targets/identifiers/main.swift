import FuzzDriver
import FuzzProperties

// libFuzzer on the `identifiers` target's properties (see FuzzTarget.identifiers).
FuzzDriver.run { data, size in FuzzTarget.identifiers.runLibFuzzerInput(data, size) }
