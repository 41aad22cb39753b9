import Foundation

/// Writes files only their owner may read (mode 0600 from creation), as the worker requires of
/// its signing-key file.
public enum PrivateFile {
    /// Creates `url` (it must not exist) with mode 0600 and writes `text` to it.
    public static func write(_ text: String, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WorkerProcessError(description: "cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data(text.utf8))
    }
}
