import Synchronization

/// Every metric a process exports, registered by the part that owns it, rendered as the
/// Prometheus text format (version 0.0.4) for `/metrics` and read by name for stats pages.
///
/// A part registers its counters and gauges once (at start-up, or when it is created) and
/// keeps the returned objects; only it writes them. The same family registered by several
/// owners with the same labels — one per event loop — is one series whose value is the sum.
/// A family with other labels adds a series. Families render in the order they were first
/// registered, each with its `# HELP` and `# TYPE` lines.
public final class MetricsRegistry: Sendable {
    /// The Prometheus metric type.
    public enum Kind: String, Sendable {
        case counter, gauge
    }

    private struct Series {
        var labels: String
        var counters: [Counter] = []
        var gauges: [Gauge] = []
        var computed: [@Sendable () -> Double] = []
    }

    private struct Family {
        let name: String
        let help: String
        let kind: Kind
        var series: [Series] = []
    }

    private let families = Mutex<[Family]>([])

    public init() {}

    /// A counter in family `name` (created on first registration), with `labels` as written
    /// in the exposition format (`loop="0"`, or empty).
    public func counter(_ name: String, help: String, labels: String = "") -> Counter {
        let c = Counter()
        add(name, help, .counter, labels) { $0.counters.append(c) }
        return c
    }

    /// A gauge in family `name`, summed with the gauges registered under the same labels.
    public func gauge(_ name: String, help: String, labels: String = "") -> Gauge {
        let g = Gauge()
        add(name, help, .gauge, labels) { $0.gauges.append(g) }
        return g
    }

    /// A sample computed when rendered (`value` must be safe to call from any thread: read
    /// atomics or immutable state).
    public func computed(_ name: String, help: String, kind: Kind, labels: String = "",
                         value: @escaping @Sendable () -> Double) {
        add(name, help, kind, labels) { $0.computed.append(value) }
    }

    private func add(_ name: String, _ help: String, _ kind: Kind, _ labels: String, _ body: (inout Series) -> Void) {
        families.withLock { all in
            var f: Int
            if let i = all.firstIndex(where: { $0.name == name }) {
                precondition(all[i].kind == kind, "metric \(name) registered as \(all[i].kind) and as \(kind)")
                f = i
            } else {
                all.append(Family(name: name, help: help, kind: kind))
                f = all.count - 1
            }
            if let s = all[f].series.firstIndex(where: { $0.labels == labels }) {
                body(&all[f].series[s])
            } else {
                var s = Series(labels: labels)
                body(&s)
                all[f].series.append(s)
            }
        }
    }

    /// The value of family `name` with `labels` (the sum of its owners), or nil when it is not
    /// registered.
    public func value(_ name: String, labels: String = "") -> Double? {
        families.withLock { all in
            all.first { $0.name == name }?.series.first { $0.labels == labels }.map(Self.sum)
        }
    }

    private static func sum(_ s: Series) -> Double {
        var total = 0.0
        for c in s.counters { total += Double(c.value) }
        for g in s.gauges { total += Double(g.value) }
        for f in s.computed { total += f() }
        return total
    }

    /// The Prometheus text exposition of every registered family.
    public func render() -> String {
        families.withLock { all in
            var out = ""
            for f in all {
                out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.kind.rawValue)\n"
                for s in f.series {
                    out += f.name
                    if !s.labels.isEmpty { out += "{\(s.labels)}" }
                    out += " \(Self.format(Self.sum(s)))\n"
                }
            }
            return out
        }
    }

    /// Integers without a fraction; others with up to 6 significant decimals.
    static func format(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
