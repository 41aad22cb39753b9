// LeaveService module: see the issue that builds it.
