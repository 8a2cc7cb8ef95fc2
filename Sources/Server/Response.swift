import HTTP1
import Reactor

/// Writes HTTP/1.1 responses straight into a socket's output buffer: status line, cached
/// `Date`, and the headers every response needs. No Strings on the success path.
struct ResponseWriter {
    var timestamp = Timestamp()

    /// Appends a status line and the common headers; the caller appends extra headers, then
    /// `endHead`, then the body. `contentLength` is not written for statuses without content
    /// (1xx, 204, 304).
    @inline(__always)
    mutating func head(_ status: Int, contentType: StaticString?, contentLength: Int, keepAlive: Bool,
                       now: Double, into out: inout ByteBuffer) {
        out.append("HTTP/1.1 ")
        out.append(decimal: status)
        out.append(byte: 32)
        out.append(HTTPStatusLine.reason(status))
        out.append("\r\nDate: ")
        timestamp.appendHTTPDate(now, to: &out)
        if let contentType {
            out.append("\r\nContent-Type: ")
            out.append(contentType)
        }
        // RFC 9110 §8.6: never in a 1xx or 204. §15.4.5: a 304's could only repeat the 200's
        // length, which the callers do not have at hand; it has no content either way.
        if status >= 200 && status != 204 && status != 304 {
            out.append("\r\nContent-Length: ")
            out.append(decimal: contentLength)
        }
        if !keepAlive { out.append("\r\nConnection: close") }
        out.append("\r\n")
    }

    @inline(__always)
    func endHead(into out: inout ByteBuffer) { out.append("\r\n") }

    /// A JSON error body `{"error":{"code":…,"message":…}}` (cold path).
    mutating func error(_ status: Int, code: String, message: String, keepAlive: Bool, now: Double,
                        extraHeaders: String = "", head: Bool = false, into out: inout ByteBuffer) {
        let body = "{\"error\":{\"code\":\(jsonString(code)),\"message\":\(jsonString(message))}}"
        self.head(status, contentType: "application/json", contentLength: body.utf8.count, keepAlive: keepAlive, now: now, into: &out)
        out.append(string: extraHeaders)
        endHead(into: &out)
        if !head { out.append(string: body) }
    }
}
