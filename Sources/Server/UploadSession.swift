import Artifacts
import HTTP1
import Reactor

/// The connection an upload reads its body from, and answers through.
protocol UploadOwner: AnyObject {
    /// Backpressure: `false` while both chunks wait for the disk (read no more), `true` again
    /// once one is free.
    func uploadWantsBody(_ more: Bool)
    /// Body bytes arrived (the idle timeout restarts).
    func uploadProgressed()
    /// The upload ended: stored, or why not (`bodyUnread`: the body was not read to its end,
    /// so the connection must close after the answer).
    func uploadEnded(_ slot: AnswerPipeline.Slot, _ result: Result<ArtifactMetadata, UploadFailure>)
}

/// Why an upload was not stored, as the answer says it.
struct UploadFailure: Error {
    let status: Int
    let code: String
    let message: String
    let bodyUnread: Bool
}

/// One streamed artifact upload on an HTTP connection.
///
/// Body bytes (Content-Length or chunked, RFC 9112 §6.3 and §7.1) are copied from the loop's
/// receive buffer into a 256 KiB chunk; a worker job writes a full chunk while the next one fills.
/// When both are busy the connection stops reading (backpressure: TCP slows the sender), so an
/// upload holds at most two chunks whatever its size. Jobs run one at a time, in order: open,
/// write, write, …, commit. A body that breaks off, passes the limit or hits a full disk is
/// aborted: its temp file is removed and nothing becomes visible.
final class UploadSession: @unchecked Sendable { // confined to the loop's thread
    static let chunkSize = 256 * 1024

    private weak var owner: UploadOwner?
    /// The answer slot of the upload request.
    let slot: AnswerPipeline.Slot
    private let service: ArtifactService
    private let runId: String, name: String, kind: String
    private let chunked: Bool
    private var decoder = ChunkedDecoder()
    private var remaining: Int64
    private var received: Int64 = 0
    private var filling: ByteChunk
    private var spare: ByteChunk
    private var upload: ArtifactUpload?
    private var jobRunning = false
    private(set) var bodyDone = false
    /// Finished (committed) or aborted: no more jobs.
    private var ended = false

    init(owner: UploadOwner, slot: AnswerPipeline.Slot, service: ArtifactService, runId: String, name: String, kind: String, head: RequestHead) {
        self.owner = owner
        self.slot = slot
        self.service = service
        self.runId = runId
        self.name = name
        self.kind = kind
        chunked = head.chunked
        remaining = head.chunked ? 0 : max(0, head.contentLength)
        bodyDone = !head.chunked && remaining == 0
        // A small upload (a screenshot) gets chunks of its own size, not two of 256 KiB.
        let size = head.chunked ? Self.chunkSize : Int(max(1, min(Int64(Self.chunkSize), remaining)))
        filling = ByteChunk(capacity: size)
        spare = ByteChunk(capacity: size)
        service.uploadsInFlight.add(1)
        pump()
    }

    private var loop: EventLoop { service.loop }

    /// Takes body bytes from the front of `bytes`; returns how many were used. Stops at the end
    /// of the body (what follows is the next request) or when both chunks are full.
    func feed(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        guard !ended, !bodyDone, let base = bytes.baseAddress else { return 0 }
        var at = 0
        if chunked {
            while at < bytes.count && !bodyDone {
                let limit = min(bytes.count - at, filling.free)
                if limit == 0 { break }
                switch decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + limit)])) {
                case .data(let s, let c, let consumed):
                    filling.append(base + at + s, c)
                    received += Int64(c)
                    at += consumed
                case .needMore(let consumed):
                    at += consumed
                case .end(let consumed):
                    at += consumed
                    bodyDone = true
                case .invalid(let e):
                    fail(e.status, e.code, e.message)
                    return bytes.count
                }
                if received > service.maxBytes { break }
            }
        } else {
            let n = Int(min(remaining, Int64(bytes.count), Int64(filling.free)))
            filling.append(base, n)
            remaining -= Int64(n)
            received += Int64(n)
            at = n
            bodyDone = remaining == 0
        }
        if received > service.maxBytes {
            fail(413, "body_too_large", "the artifact exceeds MAX_ARTIFACT_BYTES (\(service.maxBytes) bytes)")
            return bytes.count
        }
        owner?.uploadProgressed()
        // Both chunks full: read nothing more until the disk has caught up.
        if !bodyDone && at < bytes.count { owner?.uploadWantsBody(false) }
        pump()
        return at
    }

    /// Starts the next job when none is running: open, then write what has filled, then commit.
    private func pump() {
        guard !jobRunning, !ended else { return }
        guard let upload else {
            jobRunning = true
            let store = service.store, runId = self.runId, name = self.name, kind = self.kind
            service.disk.submit(on: loop, { () -> Result<ArtifactUpload, StoreError> in
                do { return .success(try store.beginUpload(runId: runId, name: name, kind: kind)) } catch {
                    return .failure(error as? StoreError ?? .io("\(error)"))
                }
            }) { [self] result in
                jobRunning = false
                switch result {
                case .success(let u):
                    upload = u
                    if ended { discard(); return }
                    pump()
                case .failure(let e): storeFailed(e)
                }
            }
            return
        }
        if filling.count > 0 {
            swap(&filling, &spare)
            let chunk = spare
            jobRunning = true
            service.disk.submit(on: loop, { () -> StoreError? in
                do { try upload.write(chunk.bytes); return nil } catch { return error as? StoreError ?? .io("\(error)") }
            }) { [self] error in
                jobRunning = false
                chunk.count = 0
                if ended { discard(); return }
                if let error { storeFailed(error); return }
                pump()
                if !bodyDone { owner?.uploadWantsBody(true) }
            }
            return
        }
        guard bodyDone else { return }
        jobRunning = true
        service.disk.submit(on: loop, { () -> Result<ArtifactMetadata, StoreError> in
            do { return .success(try upload.commit()) } catch { return .failure(error as? StoreError ?? .io("\(error)")) }
        }) { [self] result in
            jobRunning = false
            end()
            switch result {
            case .success(let meta):
                service.uploaded(meta)
                owner?.uploadEnded(slot, .success(meta))
            case .failure(let e):
                owner?.uploadEnded(slot, .failure(UploadFailure(status: Self.status(e), code: Self.code(e),
                                                          message: "the upload could not be stored: \(e)", bodyUnread: false)))
            }
            owner = nil
        }
    }

    static func status(_ e: StoreError) -> Int {
        switch e {
        case .insufficientStorage: return 507
        case .io: return 500
        }
    }

    static func code(_ e: StoreError) -> String {
        switch e {
        case .insufficientStorage: return "insufficient_storage"
        case .io: return "storage_error"
        }
    }

    private func storeFailed(_ e: StoreError) {
        service.logger.warning("artifact upload failed", metadata: ["runId": "\(runId)", "error": "\(e)"])
        fail(Self.status(e), Self.code(e), "the upload could not be stored: \(e)")
    }

    /// Answers an error (closing: the rest of the body is not read) and removes the upload.
    private func fail(_ status: Int, _ code: String, _ message: String) {
        guard !ended else { return }
        end()
        if !jobRunning { discard() }
        let o = owner
        owner = nil
        o?.uploadEnded(slot, .failure(UploadFailure(status: status, code: code, message: message, bodyUnread: !bodyDone)))
    }

    /// The connection closed (peer gone, timeout, shutdown). A body that had not fully arrived
    /// is aborted; a complete one is still committed (only the answer is lost).
    func connectionClosed() {
        owner = nil
        guard !ended, !bodyDone else { return }
        end()
        if !jobRunning { discard() }
    }

    /// Removes the temp file on the worker pool (the running job, if any, has finished).
    private func discard() {
        guard let u = upload else { return }
        upload = nil
        service.disk.enqueue { u.abort() }
    }

    private func end() {
        guard !ended else { return }
        ended = true
        service.uploadsInFlight.add(-1)
    }
}
