extension String {
    /// The longest prefix of at most `limit` UTF-8 bytes that ends between two Unicode scalars:
    /// how text a remote server chose (a JSON member name, an error it answered) is bounded before
    /// it is answered back or logged.
    public func clipped(toUTF8Bytes limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var bytes = 0
        var scalars = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            bytes += UTF8.width(scalar)
            guard bytes <= limit else { break }
            scalars.append(scalar)
        }
        return String(scalars)
    }
}
