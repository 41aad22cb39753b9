print("leave-worker")
