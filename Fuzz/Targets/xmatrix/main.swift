import FuzzDriver
import FuzzProperties

// libFuzzer on the `xmatrix` target's properties (see FuzzTarget.xmatrix).
FuzzDriver.run { data, size in FuzzTarget.xmatrix.runLibFuzzerInput(data, size) }
