/// Reason phrases for the statuses this server sends (RFC 9110 §15, RFC 6585).
///
/// RFC 9112 §4: the reason-phrase is advisory, but clients and logs read better with one.
public enum HTTPStatusLine {
    /// The reason phrase for `status`, or `"Unknown"` for a status not in the table.
    public static func reason(_ status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 413: return "Content Too Large"  // RFC 9110 §15.5.14 (was "Payload Too Large")
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"  // RFC 6585 §4
        case 431: return "Request Header Fields Too Large"  // RFC 6585 §5
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Unknown"
        }
    }
}
