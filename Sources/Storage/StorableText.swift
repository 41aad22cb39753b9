extension StringProtocol {
    /// Whether a Postgres `text` value can hold this string: every string but one with a NUL byte
    /// (SQLSTATE 22021). So no stored identifier contains one, and a look-up by such a key finds
    /// nothing — which storage answers itself rather than send a statement whose refusal would read
    /// as this server's failure (a remote's `%00` in a make_leave's room ID was answered 503, retry).
    var isStorableText: Bool { !utf8.contains(0) }

    /// This string with each NUL replaced by U+FFFD, which Postgres `text` can hold: for text kept
    /// for the operator whose source is remote (a destination's error code), so that writing it
    /// cannot fail and take the rest of the row's update with it.
    var storableText: String {
        if isStorableText { return String(self) }
        return String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : $0 }))
    }
}
