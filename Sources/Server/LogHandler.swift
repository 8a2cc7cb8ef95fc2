import Artifacts
import Logging
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler writing one line per event to standard error, as text or JSON.
/// Each line goes out in one `write(2)`, so lines from several threads never interleave.
public struct RunwireLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let json: Bool

    public init(label: String, level: Logger.Level, json: Bool) {
        self.label = label
        self.logLevel = level
        self.json = json
    }

    /// Installs the handler for every logger of the process (once, at start-up).
    public static func bootstrap(level: String, format: String) {
        let lvl = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { RunwireLogHandler(label: $0, level: lvl, json: format == "json") }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        if let error = event.error { all["error"] = "\(error)" }
        let time = Timestamp.iso(Timestamp.now())
        var text: String
        if json {
            text = "{\"time\":\"\(time)\",\"level\":\"\(level)\",\"logger\":\(jsonString(label)),\"msg\":\(jsonString(message.description))"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { text += ",\(jsonString(k)):\(jsonString("\(v)"))" }
            text += "}\n"
        } else {
            text = "\(time) \(level) \(label): \(message)"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { text += " \(k)=\(v)" }
            text += "\n"
        }
        text.withUTF8 { b in _ = Glibc.write(2, b.baseAddress, b.count) }
    }
}

/// JSON string literal for `s` (quotes, backslashes and control characters escaped): one
/// implementation for logs, API errors and artifact metadata.
public func jsonString(_ s: String) -> String { FlatJSON.quote(s) }
