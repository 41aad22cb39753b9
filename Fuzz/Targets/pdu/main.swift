import FuzzDriver
import FuzzProperties

// libFuzzer on the `pdu` target's properties (see FuzzTarget.pdu).
FuzzDriver.run { data, size in FuzzTarget.pdu.runLibFuzzerInput(data, size) }
