/// Why a request head or a chunked body was rejected.
///
/// Each case maps to the status the server answers with (then closes the
/// connection: after a framing error the byte stream cannot be trusted, RFC 9112
/// §9.6), a stable snake_case `code` for logs and JSON error bodies, and a
/// human-readable `message`. The strings are built only on this error path.
public enum HTTPParseError: Error, Equatable, Hashable, Sendable, CaseIterable {
    /// The request line is not `method SP request-target SP HTTP-version` (RFC 9112 §3).
    case badRequestLine
    /// The method contains a byte that is not a `tchar` (RFC 9110 §9.1, §5.6.2).
    case badMethod
    /// The request-target is empty, contains control bytes, or is in no form the
    /// method allows (RFC 9112 §3.2).
    case badTarget
    /// The version is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3).
    case badVersion
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (RFC 9110 §15.6.6: 505).
    case unsupportedVersion
    /// A field line has no colon or an empty name (RFC 9112 §5).
    case badHeaderLine
    /// Whitespace between a field name and the colon (RFC 9112 §5.1: MUST reject with 400).
    case whitespaceBeforeColon
    /// A field name contains a byte that is not a `tchar` (RFC 9110 §5.1).
    case badHeaderName
    /// A field value contains a control byte other than HTAB (RFC 9110 §5.5).
    case badHeaderValue
    /// A line starts with whitespace: obs-fold or whitespace before the first field
    /// (RFC 9112 §5.2, §2.2); rejected rather than unfolded.
    case obsFold
    /// A CR not followed by LF (RFC 9112 §2.2).
    case bareCR
    /// More field lines than the caller supplied slots for (RFC 6585 §5: 431).
    case tooManyHeaders
    /// The head did not end within the caller's byte limit (RFC 6585 §5: 431).
    case headTooLarge
    /// An HTTP/1.1 request without exactly one Host field (RFC 9112 §3.2: MUST 400).
    case badHost
    /// Content-Length is not `1*DIGIT`, overflows Int64, or repeats with a
    /// different value (RFC 9112 §6.3 item 5, RFC 9110 §8.6).
    case badContentLength
    /// Both Content-Length and Transfer-Encoding are present (RFC 9112 §6.1, §11.2:
    /// a request-smuggling vector, rejected).
    case contentLengthWithTransferEncoding
    /// Transfer-Encoding whose final coding is not a single `chunked`, or sent in an
    /// HTTP/1.0 request (RFC 9112 §6.3 item 4, §6.1, §7).
    case badTransferEncoding
    /// Transfer-Encoding ending in `chunked` but also naming codings this server
    /// does not implement (RFC 9112 §6.1: SHOULD 501).
    case unsupportedTransferEncoding
    /// A chunk-size that is empty or not hexadecimal (RFC 9112 §7.1).
    case badChunkSize
    /// A chunk-size larger than Int64 can hold.
    case chunkSizeOverflow
    /// A chunk extension with control bytes, or a size line over the decoder's limit
    /// (RFC 9112 §7.1.1).
    case badChunkExtension
    /// Chunk data not followed by CRLF, or a size line not ended by CRLF (RFC 9112 §7.1).
    case badChunkFraming
    /// A malformed trailer field line (RFC 9112 §7.1.2).
    case badTrailer
    /// The trailer section exceeds the decoder's 16 KiB limit.
    case trailerTooLarge

    /// The response status this error calls for.
    public var status: Int {
        switch self {
        case .tooManyHeaders, .headTooLarge: return 431
        case .unsupportedVersion: return 505
        case .unsupportedTransferEncoding: return 501
        default: return 400
        }
    }

    /// A stable snake_case identifier, e.g. `bad_request_line`.
    public var code: String {
        switch self {
        case .badRequestLine: return "bad_request_line"
        case .badMethod: return "bad_method"
        case .badTarget: return "bad_target"
        case .badVersion: return "bad_version"
        case .unsupportedVersion: return "unsupported_version"
        case .badHeaderLine: return "bad_header_line"
        case .whitespaceBeforeColon: return "whitespace_before_colon"
        case .badHeaderName: return "bad_header_name"
        case .badHeaderValue: return "bad_header_value"
        case .obsFold: return "obs_fold"
        case .bareCR: return "bare_cr"
        case .tooManyHeaders: return "too_many_headers"
        case .headTooLarge: return "header_too_large"
        case .badHost: return "bad_host"
        case .badContentLength: return "bad_content_length"
        case .contentLengthWithTransferEncoding: return "content_length_with_transfer_encoding"
        case .badTransferEncoding: return "bad_transfer_encoding"
        case .unsupportedTransferEncoding: return "unsupported_transfer_encoding"
        case .badChunkSize: return "bad_chunk_size"
        case .chunkSizeOverflow: return "chunk_size_overflow"
        case .badChunkExtension: return "bad_chunk_extension"
        case .badChunkFraming: return "bad_chunk_framing"
        case .badTrailer: return "bad_trailer"
        case .trailerTooLarge: return "trailer_too_large"
        }
    }

    /// A one-sentence explanation suitable for an error response body.
    public var message: String {
        switch self {
        case .badRequestLine: return "Malformed request line."
        case .badMethod: return "The request method contains invalid characters."
        case .badTarget: return "The request target is empty, contains invalid characters or has an unsupported form."
        case .badVersion: return "Malformed HTTP version."
        case .unsupportedVersion: return "Only HTTP/1.0 and HTTP/1.1 are supported."
        case .badHeaderLine: return "A header line has no colon or an empty name."
        case .whitespaceBeforeColon: return "Whitespace between a header name and the colon is not allowed."
        case .badHeaderName: return "A header name contains invalid characters."
        case .badHeaderValue: return "A header value contains control characters."
        case .obsFold: return "Folded header lines (obs-fold) are not accepted."
        case .bareCR: return "A CR not followed by LF was found."
        case .tooManyHeaders: return "Too many header fields."
        case .headTooLarge: return "The request head is too large."
        case .badHost: return "An HTTP/1.1 request needs exactly one Host header."
        case .badContentLength: return "Invalid or conflicting Content-Length."
        case .contentLengthWithTransferEncoding: return "Content-Length and Transfer-Encoding must not both be sent."
        case .badTransferEncoding: return "Transfer-Encoding must end with a single chunked coding (HTTP/1.1 only)."
        case .unsupportedTransferEncoding: return "Only the chunked transfer coding is supported."
        case .badChunkSize: return "Invalid chunk size."
        case .chunkSizeOverflow: return "Chunk size is too large."
        case .badChunkExtension: return "Invalid or oversized chunk extension."
        case .badChunkFraming: return "Chunk data or size line is not terminated by CRLF."
        case .badTrailer: return "Malformed trailer field."
        case .trailerTooLarge: return "The trailer section is too large."
        }
    }
}
