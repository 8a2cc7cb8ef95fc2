import Foundation

/// `report`: a self-contained HTML page with an SVG chart of latency percentiles (p50, p90,
/// p99, p99.9, max) for the runs given as JSON lines (`runwire-bench … --json` output; a
/// `label` field, else `cmd`, names each run). Bars use a log scale: tails span decades.
enum ReportPage {
    struct Run {
        var label: String
        var values: [(String, Double)] // (percentile name, microseconds)
        var extra: String
    }

    static let percentiles = [("p50", "p50us"), ("p90", "p90us"), ("p99", "p99us"), ("p99.9", "p999us"), ("max", "maxus")]

    static func runs(fromJSONLines text: String) -> [Run] {
        text.split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8),
                  let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
            // JSON numbers, or the strings of lines written before `--json` typed its values.
            func num(_ k: String) -> Double? { (o[k] as? String).flatMap(Double.init) ?? (o[k] as? Double) }
            let values = percentiles.compactMap { name, key in num(key).map { (name, $0) } }
            guard !values.isEmpty else { return nil }
            let label = (o["label"] as? String) ?? (o["cmd"] as? String) ?? (o["scenario"] as? String) ?? "run"
            let rate = ["deliveriesPerSecond", "messagesPerSecond", "requestsPerSecond"].compactMap { k in num(k).map { "\(k) \(Int($0))" } }
            return Run(label: label, values: values, extra: rate.joined(separator: ", "))
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The page for `runs`.
    static func html(_ runs: [Run], title: String) -> String {
        let width = 900.0, rowHeight = 16.0, groupGap = 14.0, left = 70.0, right = 20.0
        let maxValue = max(runs.flatMap { $0.values.map(\.1) }.max() ?? 1, 10)
        let logMax = log10(maxValue * 1.2)
        func x(_ v: Double) -> Double { left + (width - left - right) * max(0, log10(max(v, 1))) / logMax }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var svg = ""
        var y = 30.0
        for p in percentiles.map(\.0) {
            svg += "<text x=\"4\" y=\"\(y + rowHeight * Double(runs.count) / 2 + 4)\" font-size=\"12\">\(p)</text>\n"
            for (i, r) in runs.enumerated() {
                guard let v = r.values.first(where: { $0.0 == p })?.1 else { continue }
                svg += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(x(v) - left)\" height=\"\(rowHeight - 3)\" fill=\"\(colors[i % colors.count])\"><title>\(escape(r.label)): \(p) \(v / 1000) ms</title></rect>\n"
                svg += "<text x=\"\(x(v) + 4)\" y=\"\(y + rowHeight - 5)\" font-size=\"10\">\(String(format: "%.2f", v / 1000)) ms</text>\n"
                y += rowHeight
            }
            y += groupGap
        }
        var ticks = ""
        var t = 1.0
        while t <= maxValue * 1.2 {
            ticks += "<line x1=\"\(x(t))\" y1=\"20\" x2=\"\(x(t))\" y2=\"\(y)\" stroke=\"#ddd\"/><text x=\"\(x(t) + 2)\" y=\"16\" font-size=\"10\">\(t >= 1000 ? "\(Int(t / 1000)) ms" : "\(Int(t)) µs")</text>\n"
            t *= 10
        }
        let legend = runs.enumerated().map { i, r in
            "<li><span style=\"display:inline-block;width:12px;height:12px;background:\(colors[i % colors.count])\"></span> \(escape(r.label)) <small>\(escape(r.extra))</small></li>"
        }.joined(separator: "\n")
        return """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:24px}ul{list-style:none;padding:0}li{margin:4px 0}</style></head>
        <body><h1>\(escape(title))</h1><p>Latency percentiles (log scale), one bar per run.</p>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(y + 10))">\n\(ticks)\(svg)</svg>
        <ul>\(legend)</ul></body></html>
        """
    }
}
