import CShimCrypto
import Foundation
import Testing
@testable import Artifacts

/// A fresh store in a temp directory, removed by `cleanup`.
func makeStore() -> ArtifactStore {
    ArtifactStore(root: NSTemporaryDirectory() + "artifacts-test-\(UUID().uuidString)")
}

func cleanup(_ s: ArtifactStore) { try? FileManager.default.removeItem(atPath: s.root) }

func files(_ s: ArtifactStore, _ run: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: s.runDir(run))) ?? []).sorted()
}

func put(_ s: ArtifactStore, _ run: String, _ bytes: [UInt8], kind: String = "log", name: String = "f.txt") throws -> ArtifactMetadata {
    let u = try s.beginUpload(runId: run, name: name, kind: kind)
    try bytes.withUnsafeBytes { try u.write($0) }
    return try u.commit()
}

func sha256Hex(_ b: [UInt8]) -> String {
    var d = [UInt8](repeating: 0, count: 32)
    CShim_sha256(b, b.count, &d)
    return Hex.encode(d)
}

@Suite("Artifact store")
struct StoreTests {
    @Test func commitWritesDataAndMetadataAtomically() throws {
        let s = makeStore(); defer { cleanup(s) }
        let bytes = Array("hello artifacts".utf8)
        let m = try put(s, "r1", bytes)
        #expect(m.size == 15 && m.sha256 == sha256Hex(bytes) && m.kind == "log" && m.compression == .none)
        #expect(files(s, "r1") == ["\(m.id).data", "\(m.id).json"])
        #expect(s.metadata("r1", m.id) == ArtifactMetadata.parse(Array(m.fileJSON.utf8)))
        #expect(s.list("r1").map(\.id) == [m.id])
        let data = try Data(contentsOf: URL(fileURLWithPath: s.dataPath("r1", m.id, .identity)))
        #expect(Array(data) == bytes)
    }

    @Test func emptyUploadIsAnArtifactToo() throws {
        let s = makeStore(); defer { cleanup(s) }
        let m = try put(s, "r1", [])
        #expect(m.size == 0 && m.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func abortLeavesNothingBehind() throws {
        let s = makeStore(); defer { cleanup(s) }
        let u = try s.beginUpload(runId: "r1", name: "x", kind: "video")
        try [UInt8](repeating: 7, count: 100_000).withUnsafeBytes { try u.write($0) }
        #expect(files(s, "r1").count == 1) // the temp file
        u.abort()
        #expect(files(s, "r1").isEmpty)
        #expect(s.list("r1").isEmpty)
    }

    @Test func deleteRemovesEveryFile() throws {
        let s = makeStore(); defer { cleanup(s) }
        let a = try put(s, "r1", [1, 2, 3])
        let b = try put(s, "r1", [4])
        #expect(s.delete("r1", a.id))
        #expect(!s.delete("r1", a.id))
        #expect(files(s, "r1") == ["\(b.id).data", "\(b.id).json"])
        #expect(s.delete("r1", b.id))
        #expect(!FileManager.default.fileExists(atPath: s.runDir("r1")))
    }

    @Test func leftoversOfADeadProcessAreRemovedAtStartUp() throws {
        let s = makeStore(); defer { cleanup(s) }
        let keep = try put(s, "r1", [9])
        let dir = s.runDir("r1")
        // This process's own temp (a previous process with our pid) and an old one of another host.
        let own = "\(dir)/\(s.tempName())"
        _ = FileManager.default.createFile(atPath: own, contents: Data([1]))
        let foreign = "\(dir)/.tmp-otherhost-1-abcdef"
        _ = FileManager.default.createFile(atPath: foreign, contents: Data([1]))
        let fresh = "\(dir)/.tmp-otherhost-2-abcdef"
        _ = FileManager.default.createFile(atPath: fresh, contents: Data([1]))
        let orphan = "\(dir)/0123456789abcdef01234567.data"
        _ = FileManager.default.createFile(atPath: orphan, contents: Data([1]))
        let old = Date(timeIntervalSinceNow: -2 * ArtifactStore.staleAfter)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: foreign)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: orphan)
        #expect(s.removeLeftovers(atStartup: false) == 2) // own live temp kept while running
        #expect(s.removeLeftovers(atStartup: true) == 1)
        #expect(files(s, "r1") == [".tmp-otherhost-2-abcdef", "\(keep.id).data", "\(keep.id).json"])
    }

    @Test func statsCountFromTheDirectory() throws {
        let s = makeStore(); defer { cleanup(s) }
        _ = try put(s, "r1", [UInt8](repeating: 1, count: 1000))
        var old = try put(s, "r2", [UInt8](repeating: 1, count: 24))
        old.createdAt -= 40 * 86400
        try s.writeMetadata(old)
        let st = s.stats(retentionDays: 30)
        #expect(st.totalArtifacts == 2 && st.totalStorageBytes == 1024 && st.artifactsPendingDeletion == 1)
    }

    @Test func cleanerDeletesOnlyExpiredInBatches() throws {
        let s = makeStore(); defer { cleanup(s) }
        for i in 0..<5 {
            var m = try put(s, "r\(i % 2)", [UInt8(i)])
            if i < 3 { m.createdAt -= 31 * 86400; try s.writeMetadata(m) }
        }
        let c = RetentionCleaner(store: s, retentionDays: 30, batchSize: 2)
        #expect(c.runBatch() == (2, true, "r1"))
        #expect(c.runBatch() == (1, false, nil))
        #expect(c.runBatch() == (0, false, nil))
        #expect(s.stats(retentionDays: 30).totalArtifacts == 2)
    }

    /// A pass walks the runs once: each batch goes on in the run the last one stopped in, and
    /// an expired artifact in a run before it waits for the next pass.
    @Test func cleanerBatchesOfOnePassGoOnWhereTheLastStopped() throws {
        let s = makeStore(); defer { cleanup(s) }
        func expired(_ run: String) throws {
            var m = try put(s, run, [1])
            m.createdAt -= 31 * 86400
            try s.writeMetadata(m)
        }
        for run in ["a", "b", "b", "c"] { try expired(run) }
        let c = RetentionCleaner(store: s, retentionDays: 30, batchSize: 2)
        let first = c.runBatch()
        #expect(first == (2, true, "b"), "a's and one of b's; stopped in b")
        try expired("a") // behind the cursor now
        let second = c.runBatch(from: first.cursor)
        #expect(second == (2, false, nil), "b's other and c's, not a's new one")
        #expect(s.list("a").count == 1)
        #expect(c.runBatch() == (1, false, nil), "the next pass starts from the first run")
        #expect(s.stats(retentionDays: 30).totalArtifacts == 0)
    }
}

@Suite("Metadata JSON and times")
struct MetadataTests {
    @Test func handEditedMetadataStillParses() {
        let text = #"{ "createdAt" : "2020-01-02T03:04:05.678Z", "id":"abc", "runId":"r\/1", "name":"a \"b\" \u00e9 \ud83d\ude00", "#
            + #""kind":"trace","size":12,"sha256":"00","encoding":"gzip","storedSize":5,"compression":"done" }"#
        let m = ArtifactMetadata.parse(Array(text.utf8))
        #expect(m?.runId == "r/1" && m?.name == "a \"b\" é 😀" && m?.encoding == .gzip && m?.storedSize == 5)
        #expect(m.map { ISOTime.format($0.createdAt) } == "2020-01-02T03:04:05.678Z")
        #expect(ArtifactMetadata.parse(Array("{\"id\":1}".utf8)) == nil)
        #expect(ArtifactMetadata.parse(Array("{\"id\":\"a\"} x".utf8)) == nil)
    }

    @Test func randomHexHasTwoLowerCaseDigitsPerByteAndRepeatsNot() {
        let a = Hex.random(bytes: 12), b = Hex.random(bytes: 12)
        #expect(a.utf8.count == 24 && Hex.decode(a.utf8)?.count == 12 && a == a.lowercased() && a != b)
        #expect(Hex.random(bytes: 0) == "")
    }

    @Test func apiJSONHasExactlyTheContractFields() {
        let m = ArtifactMetadata(id: "a", runId: "r1", name: "t\"z", kind: "trace", size: 3, sha256: "ff", createdAt: 1_763_736_592.479)
        #expect(m.apiJSON == #"{"id":"a","runId":"r1","name":"t\"z","kind":"trace","size":3,"sha256":"ff","createdAt":"2025-11-21T14:49:52.479Z"}"#)
    }
}
