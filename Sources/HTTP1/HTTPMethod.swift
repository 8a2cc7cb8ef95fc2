/// A request method (RFC 9110 §9).
///
/// The parser maps the nine methods RFC 9110 and RFC 5789 define onto their own
/// cases; any other syntactically valid token becomes `.other`, which the server
/// answers with 501 (RFC 9110 §9.1: "An origin server that receives a request
/// method that is unrecognized or not implemented SHOULD respond with 501").
/// Method names are case-sensitive (RFC 9110 §9.1), so `get` is `.other`.
public enum HTTPMethod: UInt8, Sendable, CaseIterable {
    /// `GET` (RFC 9110 §9.3.1).
    case get
    /// `HEAD` (RFC 9110 §9.3.2).
    case head
    /// `POST` (RFC 9110 §9.3.3).
    case post
    /// `PUT` (RFC 9110 §9.3.4).
    case put
    /// `DELETE` (RFC 9110 §9.3.5).
    case delete
    /// `OPTIONS` (RFC 9110 §9.3.7).
    case options
    /// `PATCH` (RFC 5789).
    case patch
    /// `CONNECT` (RFC 9110 §9.3.6).
    case connect
    /// `TRACE` (RFC 9110 §9.3.8).
    case trace
    /// A valid token naming no method this module knows.
    case other

    /// The method's token as sent on the wire (`"OTHER"` for `.other`).
    public var name: StaticString {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .patch: return "PATCH"
        case .connect: return "CONNECT"
        case .trace: return "TRACE"
        case .other: return "OTHER"
        }
    }

    /// Recognises a method token at `buffer[start ..< start + length]`.
    ///
    /// The caller has already checked every byte is a `tchar`; this only decides
    /// which case it is. Dispatching on length first keeps it to a handful of
    /// byte compares.
    @inline(__always)
    static func recognise(_ buffer: UnsafeRawBufferPointer, start s: Int, length: Int) -> HTTPMethod {
        @inline(__always) func at(_ i: Int) -> UInt8 { buffer[s &+ i] }
        switch length {
        case 3:
            if at(0) == 0x47, at(1) == 0x45, at(2) == 0x54 { return .get }  // GET
            if at(0) == 0x50, at(1) == 0x55, at(2) == 0x54 { return .put }  // PUT
        case 4:
            if at(0) == 0x50, at(1) == 0x4F, at(2) == 0x53, at(3) == 0x54 { return .post }  // POST
            if at(0) == 0x48, at(1) == 0x45, at(2) == 0x41, at(3) == 0x44 { return .head }  // HEAD
        case 5:
            if at(0) == 0x50, at(1) == 0x41, at(2) == 0x54, at(3) == 0x43, at(4) == 0x48 { return .patch }
            if at(0) == 0x54, at(1) == 0x52, at(2) == 0x41, at(3) == 0x43, at(4) == 0x45 { return .trace }
        case 6:
            if at(0) == 0x44, at(1) == 0x45, at(2) == 0x4C, at(3) == 0x45, at(4) == 0x54, at(5) == 0x45 {
                return .delete
            }
        case 7:
            if at(0) == 0x4F, at(1) == 0x50, at(2) == 0x54, at(3) == 0x49, at(4) == 0x4F, at(5) == 0x4E,
                at(6) == 0x53
            {
                return .options
            }
            if at(0) == 0x43, at(1) == 0x4F, at(2) == 0x4E, at(3) == 0x4E, at(4) == 0x45, at(5) == 0x43,
                at(6) == 0x54
            {
                return .connect
            }
        default:
            break
        }
        return .other
    }
}
