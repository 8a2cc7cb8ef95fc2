#if canImport(Glibc)
import Glibc
#endif
import GuardPage
import PubSub

// Helpers that run the JSON scanner over strings and byte arrays.

/// The outcome of one validation in comparable form: kind and range, or reason and offset.
enum JSONOutcome: Equatable, CustomStringConvertible {
    case valid(JSONKind, Range<Int>)
    case invalid(reason: String, offset: Int)

    init(_ result: Result<(kind: JSONKind, range: Range<Int>), JSONError>) {
        switch result {
        case .success(let value): self = .valid(value.kind, value.range)
        case .failure(let error): self = .invalid(reason: "\(error.reason)", offset: error.offset)
        }
    }

    var isValid: Bool {
        if case .valid = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .valid(let kind, let range): return "valid \(kind) \(range)"
        case .invalid(let reason, let offset): return "\(reason) at byte \(offset)"
        }
    }
}

func jsonValidate(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONOutcome {
    bytes.withUnsafeBytes { JSONOutcome(JSONScanner.validate($0, maxDepth: maxDepth)) }
}

func jsonValidate(_ text: String, maxDepth: Int = 64) -> JSONOutcome {
    jsonValidate(Array(text.utf8), maxDepth: maxDepth)
}

/// The text of `bytes[range]`.
func jsonText(_ bytes: [UInt8], _ range: Range<Int>) -> String {
    String(decoding: bytes[range], as: UTF8.self)
}

/// The guard-page copy shared with the HTTP parser's tests.
func withJSONGuardedCopy<R>(_ input: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    withGuardedCopy(input, body)
}

/// RFC 8259 §13, first example: an object with nested object, array and numbers.
let rfc8259ImageExample = """
    {
      "Image": {
          "Width":  800,
          "Height": 600,
          "Title":  "View from 15th Floor",
          "Thumbnail": {
              "Url":    "http://www.example.com/image/481989943",
              "Height": 125,
              "Width":  100
          },
          "Animated" : false,
          "IDs": [116, 943, 234, 38793]
        }
    }
    """

/// RFC 8259 §13, second example: an array of two objects.
let rfc8259AddressExample = """
    [
      {
         "precision": "zip",
         "Latitude":  37.7668,
         "Longitude": -122.3959,
         "Address":   "",
         "City":      "SAN FRANCISCO",
         "State":     "CA",
         "Zip":       "94107",
         "Country":   "US"
      },
      {
         "precision": "zip",
         "Latitude":  37.371991,
         "Longitude": -122.026020,
         "Address":   "",
         "City":      "SUNNYVALE",
         "State":     "CA",
         "Zip":       "94085",
         "Country":   "US"
      }
    ]
    """

/// Valid documents of every shape, shared by the acceptance and truncation tests.
let validJSONDocuments: [String] = [
    rfc8259ImageExample,
    rfc8259AddressExample,
    #"{"op":"subscribe","runId":"r1","since":7,"epoch":"abc"}"#,
    #"[{"a":[1,{"b":[]}],"c":{}},[[[]]],"x"]"#,
    #""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \uD83D\uDE00""#,
    "\"caf\u{E9} \u{20AC} \u{1F600} \u{10FFFF} \u{7F}\"",
    #"{"long ascii string beyond eight bytes":"abcdefghijklmnopqrstuvwxyz0123456789"}"#,
    "-123.456", "1.5e-10", "1E+2", "-0", "0", "12345",
    "true", "false", "null",
    " \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n} \t\r\n",
]
