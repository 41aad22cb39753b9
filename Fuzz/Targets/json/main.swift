import FuzzDriver
import FuzzProperties

// libFuzzer on the `json` target's properties (see FuzzTarget.json).
FuzzDriver.run { data, size in FuzzTarget.json.runLibFuzzerInput(data, size) }
