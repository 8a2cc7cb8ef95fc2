import Foundation
import RedisServerSupport
import Testing
@testable import Server

/// A master with one replica under three real sentinels (redis-server in sentinel mode, on
/// free loopback ports), and Runwire pointed at them with `redis+sentinel://`.
final class SentinelGroup {
    let master: RedisServer
    let replica: RedisServer
    let sentinels: [RedisSentinel]
    let name = "rw"

    init() throws {
        master = try RedisServer()
        replica = try RedisServer()
        try replica.cli(["REPLICAOF", "127.0.0.1", "\(master.port)"])
        let port = master.port
        sentinels = try (0..<3).map { _ in try RedisSentinel(name: "rw", masterPort: port, quorum: 2) }
    }

    /// `redis+sentinel://` naming every sentinel.
    var url: String { "redis+sentinel://" + sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") + "/\(name)" }

    /// Waits (bounded) until the replica is in sync and every sentinel knows it and the other
    /// two sentinels (they learn both from the master, every 1–10 s): only then can they fail over.
    func waitSettled() throws -> Bool {
        let others = sentinels.map { String($0.port) }
        return try eventually(timeout: 30) {
            guard try replica.cli(["INFO", "replication"]).contains("master_link_status:up") else { return false }
            return try sentinels.allSatisfy { s in
                let replicas = try s.cli(["SENTINEL", "replicas", name])
                let peers = try s.cli(["SENTINEL", "sentinels", name])
                return replicas.contains(String(replica.port)) && others.filter { $0 != String(s.port) }.allSatisfy(peers.contains)
            }
        }
    }

    /// Once the group has settled: a Runwire instance on it, listening and ready (its process
    /// is killed at deinit if the caller never gets it).
    func runwire() throws -> ServerProcess {
        #expect(try waitSettled(), "the sentinels did not learn the replica and each other")
        let node = try ServerProcess(["--port", "0", "--redis-url", url, "--sweep-interval", "0.1"])
        try node.waitListening()
        #expect(try node.waitReady(), "not ready through the sentinels: \(node.log)")
        return node
    }

    func stop() {
        sentinels.forEach { $0.stop() }
        replica.stop()
        master.stop()
    }
}

extension ServerProcess {
    /// Publishes `{"i":seq}` until it is answered 201 (bounded); meanwhile only 503 (refused,
    /// nothing stored) is allowed. Returns the last answer's status and text.
    @discardableResult
    func publishThroughFailover(_ run: String, seq: Int, timeout: Double = 40) throws -> String {
        var last = "", statuses = Set<Int>()
        let published = try eventually(timeout: timeout) {
            let r = try publish(run, "{\"i\":\(seq)}")
            last = "\(r.status) \(r.text)"
            statuses.insert(r.status)
            return r.status == 201
        }
        #expect(published, "no publish succeeded after the failover: \(last); \((try? get("/health/ready").text) ?? "?")")
        #expect(statuses.isSubset(of: [201, 503]), "answers meanwhile: \(statuses)")
        #expect(last.contains("\"first\":\(seq)"), "\(last)")
        return last
    }
}

@Suite("Redis Sentinel: the master the sentinels name, through a failover", .serialized)
struct SentinelTests {
    /// The replica holds every acknowledged event (`WAIT 1`) when the master is killed: after
    /// the promotion the run goes on at the next seq, and the subscriber sees every event once,
    /// in order, with no gap.
    @Test func aKilledMasterIsReplacedAndTheRunGoesOnAtTheNextSeq() throws {
        let group = try SentinelGroup(); defer { group.stop() }
        let node = try group.runwire(); defer { node.stopAndCheck() }
        let sub = try node.subscribeRun("fo1")
        try node.publishSequence("fo1", 1...3)
        let before = Result { try sub.eventSeqs(3) }
        while node.readSome(until: Date().addingTimeInterval(0.05)) {}
        #expect((try? before.get()) == [1, 2, 3], "\(before); the server's log: \(node.log)")
        #expect(try group.master.cli(["WAIT", "1", "5000"]) == "1", "the replica did not confirm the writes")

        group.master.crash()
        // Meanwhile publishes are refused (503, nothing stored); once a sentinel has promoted
        // the replica, the link finds it and the next publish is seq 4.
        try node.publishThroughFailover("fo1", seq: 4)
        #expect(try group.replica.cli(["ROLE"]).hasPrefix("master"))
        try node.publishSequence("fo1", 5...6)
        let after = Result { try sub.eventSeqs(3) }
        #expect((try? after.get()) == [4, 5, 6], "\(after); the server's log: \(node.log)")
        #expect(try node.get("/health/ready").status == 200)
    }

    /// A planned failover (`SENTINEL FAILOVER`): the old master is demoted (it answers
    /// READONLY, or drops our connections), the sentinels name the new one, and the run goes
    /// on at the next seq with nothing lost.
    @Test func aPlannedFailoverLosesNothing() throws {
        let group = try SentinelGroup(); defer { group.stop() }
        let node = try group.runwire(); defer { node.stopAndCheck() }
        let sub = try node.subscribeRun("pf1")
        _ = try sub.subscribedEpoch()
        try node.publishSequence("pf1", 1...3)
        #expect(try group.sentinels[0].cli(["SENTINEL", "FAILOVER", group.name]) == "OK")
        #expect(try eventually(timeout: 30) { try group.replica.cli(["ROLE"]).hasPrefix("master") }, "the replica was not promoted")
        try node.publishThroughFailover("pf1", seq: 4, timeout: 30)
        try node.publishSequence("pf1", 5...6)
        let seqs = Result { try sub.eventSeqs(6) }
        #expect((try? seqs.get()) == [1, 2, 3, 4, 5, 6], "\(seqs)")
    }

    /// `REDIS_URL` naming a replica: not ready, saying so, and nothing is written anywhere.
    /// A master demoted while connected (it answers READONLY): the link lets it go and, finding
    /// a replica on reconnecting, stays down with that reason instead of reconnecting in a loop.
    @Test func aReplicaIsRefusedAndADemotedMasterIsLetGo() throws {
        let master = try RedisServer(); defer { master.stop() }
        let replica = try RedisServer(); defer { replica.stop() }
        try replica.cli(["REPLICAOF", "127.0.0.1", "\(master.port)"])
        let onReplica = try ServerProcess(["--port", "0", "--redis-url", "redis://127.0.0.1:\(replica.port)"])
        defer { onReplica.stopAndCheck() }
        try onReplica.waitListening()
        #expect(try eventually(timeout: 10) {
            try onReplica.get("/health/ready").text.contains("127.0.0.1:\(replica.port) is a replica, not a master: point REDIS_URL at the master")
        }, "\((try? onReplica.get("/health/ready").text) ?? "?")")
        let refused = try onReplica.publish("ro1", "{\"a\":1}")
        #expect(refused.status == 503, "\(refused.status) \(refused.text)")
        #expect(try master.cli(["EXISTS", "rw:{ro1}:meta"]) == "0")

        let onMaster = try ServerProcess(["--port", "0", "--redis-url", "redis://127.0.0.1:\(master.port)", "--sweep-interval", "0.1"])
        defer { onMaster.stopAndCheck() }
        try onMaster.waitListening()
        #expect(try onMaster.waitReady())
        #expect(try onMaster.publish("ro2", "{\"a\":1}").status == 201)
        let other = try RedisServer(); defer { other.stop() }
        try master.cli(["REPLICAOF", "127.0.0.1", "\(other.port)"]) // demoted
        #expect(try eventually(timeout: 10) {
            _ = try onMaster.publish("ro2", "{\"a\":2}") // answered 503 (READONLY, or the connection dropped)
            return try onMaster.get("/health/ready").text.contains("127.0.0.1:\(master.port) is a replica, not a master")
        }, "\((try? onMaster.get("/health/ready").text) ?? "?")")
        // Backoff, not a loop: the command connection came up once, before the demotion.
        onMaster.readSome(until: Date().addingTimeInterval(0.05))
        let ups = onMaster.log.components(separatedBy: "redis command connection up").count - 1
        #expect(ups == 1, "command connection came up \(ups) times")
    }

    /// A sentinel that accepts but never answers gets `REDIS_COMMAND_TIMEOUT`, then the next
    /// one is asked; sentinels with a password get `REDIS_SENTINEL_PASSWORD`, and a wrong one
    /// is named in the reason.
    @Test func aSilentSentinelIsSkippedAndTheSentinelPasswordIsUsed() throws {
        let master = try RedisServer(); defer { master.stop() }
        let silent = try RedisSentinel(name: "rw", masterPort: master.port, quorum: 1); defer { silent.stop() }
        let guarded = try RedisSentinel(name: "rw", masterPort: master.port, quorum: 1, password: "sentinel-pw")
        defer { guarded.stop() }
        silent.pause()
        let url = "redis+sentinel://127.0.0.1:\(silent.port),127.0.0.1:\(guarded.port)/rw"
        let node = try ServerProcess(["--port", "0", "--redis-url", url, "--redis-command-timeout", "1",
                                      "--redis-sentinel-password", "sentinel-pw"])
        defer { node.stopAndCheck() }
        try node.waitListening()
        #expect(try node.waitReady(timeout: 15), "\((try? node.get("/health/ready").text) ?? "?")")
        #expect(try node.publish("sp1", "{\"a\":1}").status == 201)

        let wrong = try ServerProcess(["--port", "0", "--redis-url", "redis+sentinel://127.0.0.1:\(guarded.port)/rw",
                                       "--redis-sentinel-password", "not-it"])
        defer { wrong.stopAndCheck() }
        try wrong.waitListening()
        #expect(try eventually(timeout: 10) {
            try wrong.get("/health/ready").text.contains("sentinel 127.0.0.1:\(guarded.port) refused AUTH (check REDIS_SENTINEL_PASSWORD)")
        }, "\((try? wrong.get("/health/ready").text) ?? "?")")
    }

    /// Sentinels that do not know the name, and sentinels that are not there: the server stays
    /// up, not ready, and says why; publishes are refused.
    @Test func anUnknownMasterNameOrNoSentinelLeavesTheServerUpAndNotReady() throws {
        let group = try SentinelGroup(); defer { group.stop() }
        let url = group.url.replacingOccurrences(of: "/rw", with: "/nope")
        let unknown = try ServerProcess(["--port", "0", "--redis-url", url])
        defer { unknown.stopAndCheck() }
        try unknown.waitListening()
        #expect(try eventually(timeout: 10) {
            let r = try unknown.get("/health/ready")
            return r.status == 503 && r.text.contains("does not know a master named 'nope'")
        }, "\((try? unknown.get("/health/ready").text) ?? "?")")
        #expect(try unknown.publish("n1", "{\"a\":1}").status == 503)

        let free = try RedisServer.freePort()
        let none = try ServerProcess(["--port", "0", "--redis-url", "redis+sentinel://127.0.0.1:\(free)/rw"])
        defer { none.stopAndCheck() }
        try none.waitListening()
        #expect(try eventually(timeout: 10) {
            let r = try none.get("/health/ready")
            return r.status == 503 && r.text.contains("no sentinel named the master 'rw'") && r.text.contains("127.0.0.1:\(free)")
        }, "\((try? none.get("/health/ready").text) ?? "?")")
        #expect(try none.get("/health").status == 200)
    }
}
