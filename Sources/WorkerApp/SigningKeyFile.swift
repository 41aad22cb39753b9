import Foundation
import MatrixCrypto

/// Reads this server's signing-key file (`LEAVE_WORKER_SIGNING_KEY`) for every command that signs
/// with it, refusing — as OpenSSH and PostgreSQL do for private keys — a file that is not a regular
/// file (symbolic links are followed: Kubernetes mounts Secrets through them), that belongs to
/// neither this process's user nor root, or whose mode lets group or others at it. A root-owned
/// file may also be readable by its group (mode 0640/0440, PostgreSQL's rule): that is how a
/// Kubernetes Secret volume with `defaultMode: 0400` and an `fsGroup` reaches a non-root worker.
/// The file is opened once and checked with `fstat` on that descriptor, so what is checked is what
/// is read. Messages name the variable and the fix; they never contain key material.
public enum SigningKeyFile {
    /// The keys of the file at `path`, current key first; never empty.
    public static func read(path: String) throws(Settings.Problem) -> [SigningKey] {
        let text = try readText(path: path)
        do {
            return try SigningKey.parseKeyFile(text)
        } catch {
            throw problem("signing key file \(path): \(error)")
        }
    }

    /// The text of a secret file at `path`, checked as above; messages name `variable`.
    /// (Also reads the internal bridge's token file, `BridgeToken` — part homeserver.)
    static func readText(path: String, variable: Settings.Variable = .signingKey) throws(Settings.Problem) -> String {
        func problem(_ text: String) -> Settings.Problem { Self.problem(text, variable: variable) }
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw problem("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw problem("cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        try check(status, path: path, variable: variable)
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw problem("cannot read \(path): \(error.localizedDescription)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw problem("\(path) is not UTF-8 text")
        }
        return text
    }

    private static func check(_ status: stat, path: String, variable: Settings.Variable) throws(Settings.Problem) {
        func problem(_ text: String) -> Settings.Problem { Self.problem(text, variable: variable) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw problem("\(path) is not a regular file; point it at the file itself")
        }
        let owner = status.st_uid
        guard owner == geteuid() || owner == 0 else {
            throw problem("\(path) is owned by uid \(owner), neither this process's user (uid \(geteuid())) nor root; "
                + "run `chown \(geteuid()) \(path)`")
        }
        // Owner: anything. Group: read only, and only on a root-owned file. Others: nothing.
        let forbidden: mode_t = owner == 0 ? 0o037 : 0o077
        let permissions = status.st_mode & 0o777
        guard permissions & forbidden == 0 else {
            throw problem("\(path) is accessible by group or others (mode \(String(format: "%04o", permissions))); "
                + "run `chmod 600 \(path)`")
        }
    }

    private static func problem(_ text: String, variable: Settings.Variable = .signingKey) -> Settings.Problem {
        Settings.Problem(description: "\(variable.rawValue): \(text)")
    }
}
