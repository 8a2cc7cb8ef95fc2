import Testing
@testable import Metrics

@Suite("Metrics: counters, gauges and the Prometheus text")
struct MetricsRegistryTests {
    @Test func familiesRenderInRegistrationOrderWithHelpTypeAndOneSeriesPerLabelSet() {
        let m = MetricsRegistry()
        let a = m.counter("x_total", help: "Xs done.")
        let g = m.gauge("y", help: "Ys now.", labels: "loop=\"0\"")
        let g1 = m.gauge("y", help: "Ys now.", labels: "loop=\"1\"")
        a.add(3)
        g.set(5)
        g1.add(2)
        g1.add(-1)
        #expect(m.render() == """
        # HELP x_total Xs done.
        # TYPE x_total counter
        x_total 3
        # HELP y Ys now.
        # TYPE y gauge
        y{loop="0"} 5
        y{loop="1"} 1

        """)
    }

    @Test func theSameSeriesFromSeveralOwnersIsTheirSum() {
        let m = MetricsRegistry()
        let loop0 = m.counter("requests_total", help: "Requests.")
        let loop1 = m.counter("requests_total", help: "Requests.")
        loop0.add(2)
        loop1.add(5)
        m.computed("requests_total", help: "Requests.", kind: .counter) { 1 }
        #expect(m.value("requests_total") == 8)
        #expect(m.render().contains("requests_total 8\n"))
        #expect(m.value("missing") == nil)
    }

    @Test func fractionsKeepTheirDecimalsAndWholeNumbersHaveNone() {
        #expect(MetricsRegistry.format(12) == "12")
        #expect(MetricsRegistry.format(0.25) == "0.25")
        #expect(MetricsRegistry.format(-3) == "-3")
    }
}
