// CShim: the one C door of Runwire.
//
// Swift imports only this header. It never includes <ev.h>, <zlib.h>, <hiredis/...> or
// OpenSSL headers: their APIs are macro-heavy or variadic, so each function here wraps one
// macro or call behind an opaque handle, prefixed `CShim_`, and says why it exists.
#ifndef CSHIM_H
#define CSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - libev (wrapped because ev_io_init, ev_timer_init, ... are macros)

/// Event bits, mirrored from libev so Swift sees `Int32` constants.
enum {
    CShim_EV_READ = 0x01,
    CShim_EV_WRITE = 0x02,
    CShim_EV_TIMER = 0x100,
    CShim_EV_SIGNAL = 0x400,
    CShim_EV_ERROR = (int)0x80000000,
};

typedef struct CShim_loop CShim_loop;
typedef struct CShim_io CShim_io;
typedef struct CShim_timer CShim_timer;
typedef struct CShim_async CShim_async;
typedef struct CShim_prepare CShim_prepare;
typedef struct CShim_signal CShim_signal;

/// Every watcher calls back with the context it was created with (a Swift object passed
/// unretained), the watcher's fd (or signal number, or -1) and libev's revents.
typedef void (*CShim_cb)(void *ctx, int fd, int revents);

/// A new loop on the epoll backend (falls back to libev's best backend where epoll is missing).
/// Signals are left unmasked so the process keeps its default handling until a watcher claims one.
CShim_loop *CShim_loop_new(void);
void CShim_loop_free(CShim_loop *loop);
/// Runs until CShim_loop_break or until no active watchers remain.
void CShim_loop_run(CShim_loop *loop);
/// ev_break(EVBREAK_ALL): must be called on the loop's thread (use an async watcher from others).
void CShim_loop_break(CShim_loop *loop);
/// The loop's cached time (seconds since the epoch), updated once per iteration.
double CShim_loop_now(CShim_loop *loop);
/// The backend in use (EVBACKEND_EPOLL is 4); tests assert it.
unsigned CShim_loop_backend(CShim_loop *loop);
/// How many times the loop has polled: lets tests and stats count iterations.
unsigned CShim_loop_iteration(CShim_loop *loop);

/// An I/O watcher on `fd` for `events` (CShim_EV_READ | CShim_EV_WRITE); created stopped.
CShim_io *CShim_io_new(CShim_cb cb, void *ctx, int fd, int events);
void CShim_io_start(CShim_loop *loop, CShim_io *w);
void CShim_io_stop(CShim_loop *loop, CShim_io *w);
/// Changes the watched events; restarts the watcher only when they differ.
void CShim_io_set_events(CShim_loop *loop, CShim_io *w, int events);
int CShim_io_events(const CShim_io *w);
/// Replaces the callback context (used when a socket changes owner).
void CShim_io_set_ctx(CShim_io *w, void *ctx);
/// Stops and frees the watcher (it does not close the fd).
void CShim_io_free(CShim_loop *loop, CShim_io *w);

/// A timer firing after `after` seconds and then every `repeat` seconds (0 = once).
CShim_timer *CShim_timer_new(CShim_cb cb, void *ctx, double after, double repeat);
void CShim_timer_start(CShim_loop *loop, CShim_timer *w);
void CShim_timer_stop(CShim_loop *loop, CShim_timer *w);
void CShim_timer_free(CShim_loop *loop, CShim_timer *w);

/// An async watcher: CShim_async_send is the only libev call that is safe from any thread.
CShim_async *CShim_async_new(CShim_cb cb, void *ctx);
void CShim_async_start(CShim_loop *loop, CShim_async *w);
void CShim_async_send(CShim_loop *loop, CShim_async *w);
void CShim_async_free(CShim_loop *loop, CShim_async *w);

/// A prepare watcher runs just before the loop blocks in epoll_wait: where writes are flushed.
CShim_prepare *CShim_prepare_new(CShim_cb cb, void *ctx);
void CShim_prepare_start(CShim_loop *loop, CShim_prepare *w);
void CShim_prepare_free(CShim_loop *loop, CShim_prepare *w);

/// A signal watcher (libev uses signalfd/self-pipe; the callback runs on the loop).
CShim_signal *CShim_signal_new(CShim_cb cb, void *ctx, int signum);
void CShim_signal_start(CShim_loop *loop, CShim_signal *w);
void CShim_signal_free(CShim_loop *loop, CShim_signal *w);

/// Keeps the loop from counting the watcher as a reason to keep running (ev_unref/ev_ref).
void CShim_loop_unref(CShim_loop *loop);
void CShim_loop_ref(CShim_loop *loop);

// MARK: - Sockets (sockaddr juggling is clearer in C)

/// A non-blocking, close-on-exec TCP listener on host:port (IPv4 or IPv6 literal or name).
/// Returns the fd, or -errno. `reuseport` sets SO_REUSEPORT so several loops/processes share it.
int CShim_tcp_listen(const char *host, int port, int backlog, int reuseport);
/// The local port of a bound socket, or -1.
int CShim_local_port(int fd);
/// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC and TCP_NODELAY set; returns fd or -errno.
int CShim_accept(int listen_fd);
/// A non-blocking connect to host:port, optionally bound first to `source` (a local address,
/// used by load clients to spread connections over 127.0.0.x). Returns fd or -errno;
/// the connect itself may still be in progress (EINPROGRESS is not an error here).
int CShim_tcp_connect(const char *host, int port, const char *source);
/// 0 when the connect finished, else the pending socket error (SO_ERROR).
int CShim_socket_error(int fd);
/// 1 when `host` resolves only to loopback addresses (127.0.0.0/8, ::1), else 0.
int CShim_is_loopback_host(const char *host);
/// 1 when `host` parses as an IPv4/IPv6 literal or resolves, else 0.
int CShim_host_resolves(const char *host);
/// errno of the calling thread (Swift's `errno` works too; this keeps one spelling in hot paths).
int CShim_errno(void);
/// Line-buffers stdout (Swift 6 cannot touch the `stdout` global).
void CShim_stdout_line_buffered(void);
/// Pins the calling thread (and processes it spawns later) to `cpus[0..<count]`
/// (sched_setaffinity; CPU_SET is a macro Swift cannot call). Returns 0 or -errno.
int CShim_set_affinity(const int *cpus, int count);
/// pipe2(fds, O_CLOEXEC): a pipe no spawned process inherits unless dup2'ed onto its stdio
/// (Glibc's Swift overlay hides pipe2 behind _GNU_SOURCE). Returns 0 or -errno.
int CShim_pipe_cloexec(int fds[2]);

// MARK: - Files

/// Whether every page of fd[off..<off+len] is in the page cache: 1 yes, 0 no, -1 cannot tell
/// (cachestat(2), or mincore(2) on an untouched mapping where the kernel lacks it).
int CShim_file_cached(int fd, int64_t off, int64_t len);

// MARK: - OpenSSL (hashes for the WebSocket handshake, artifacts and signed URLs)

void CShim_sha1(const void *data, size_t len, uint8_t out[20]);
void CShim_sha256(const void *data, size_t len, uint8_t out[32]);
/// HMAC-SHA256(key, data) into out[32].
void CShim_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32]);
/// Standard base64 with padding; `out` needs 4*ceil(len/3)+1 bytes. Returns the length written.
int CShim_base64_encode(const void *data, size_t len, char *out);
/// Constant-time comparison: 1 when equal.
int CShim_equal_ct(const void *a, const void *b, size_t len);
/// Cryptographically random bytes; returns 1 on success.
int CShim_random_bytes(void *out, size_t len);

typedef struct CShim_sha256_ctx CShim_sha256_ctx;
/// Streaming SHA-256 for uploads that never sit whole in memory.
CShim_sha256_ctx *CShim_sha256_new(void);
void CShim_sha256_update(CShim_sha256_ctx *ctx, const void *data, size_t len);
void CShim_sha256_final(CShim_sha256_ctx *ctx, uint8_t out[32]);
void CShim_sha256_free(CShim_sha256_ctx *ctx);

// MARK: - zlib (deflateInit2/inflateInit2 are macros)

typedef struct CShim_z CShim_z;
enum {
    CShim_Z_OK = 0, CShim_Z_STREAM_END = 1, CShim_Z_NEED_DICT = 2, CShim_Z_BUF_ERROR = -5,
    CShim_Z_DATA_ERROR = -3, CShim_Z_MEM_ERROR = -4, CShim_Z_STREAM_ERROR = -2,
    CShim_Z_NO_FLUSH = 0, CShim_Z_SYNC_FLUSH = 2, CShim_Z_FULL_FLUSH = 3, CShim_Z_FINISH = 4,
};
/// A deflater. window_bits: 8..15 raw deflate as negative (-15), gzip as 16+15 (31).
CShim_z *CShim_deflate_new(int level, int window_bits, int mem_level);
/// An inflater with the same window_bits conventions.
CShim_z *CShim_inflate_new(int window_bits);
/// One deflate/inflate step over the given buffers; reports bytes consumed and produced.
/// Returns zlib's status code.
int CShim_z_deflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced);
int CShim_z_inflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced);
/// Resets the stream to its initial state (drops the sliding window; keeps the allocation).
int CShim_z_reset(CShim_z *z);
void CShim_z_free(CShim_z *z);

// MARK: - hiredis (async, on a libev loop; the libev adapter is static functions in a header)

typedef struct CShim_redis CShim_redis;
/// Connect (status 0 = connected) and disconnect (status 0 = asked for) events; `err` says why.
typedef void (*CShim_redis_event_cb)(void *ctx, int status, const char *err);
/// A reply (a `redisReply *`, NULL when the connection went away) to the command sent with `tag`.
typedef void (*CShim_redis_reply_cb)(void *ctx, const void *reply, long tag);

enum {
    CShim_REPLY_STRING = 1, CShim_REPLY_ARRAY = 2, CShim_REPLY_INTEGER = 3, CShim_REPLY_NIL = 4,
    CShim_REPLY_STATUS = 5, CShim_REPLY_ERROR = 6,
};

/// Starts a non-blocking connect on `loop`. NULL (with `err` filled) when it fails at once.
/// After a failed connect or a disconnect the handle is freed by the shim: do not use it again.
CShim_redis *CShim_redis_connect(CShim_loop *loop, const char *host, int port, void *ctx,
                                 CShim_redis_event_cb on_connect, CShim_redis_event_cb on_disconnect,
                                 CShim_redis_reply_cb on_reply, char *err, size_t err_len);
/// Sends a command (arguments are copied); its reply arrives through `on_reply` with `tag`.
/// Returns 0, or -1 when the connection is closing.
int CShim_redis_command(CShim_redis *r, int argc, const char **argv, const size_t *argvlen, long tag);
/// Closes after pending replies arrive; `on_disconnect` follows.
void CShim_redis_disconnect(CShim_redis *r);
/// Closes at once: pending callbacks get a NULL reply, then the disconnect callback runs.
void CShim_redis_free(CShim_redis *r);
/// Writes buffered commands now (instead of at the next write readiness): called just before
/// the loop sleeps, so a command issued in this iteration reaches Redis without a loop pass.
/// May end the connection (its disconnect callback runs) when the write fails.
void CShim_redis_flush(CShim_redis *r);

int CShim_reply_type(const void *reply);
long long CShim_reply_integer(const void *reply);
/// The bytes of a string, status or error reply.
const char *CShim_reply_str(const void *reply, size_t *len);
size_t CShim_reply_elements(const void *reply);
const void *CShim_reply_element(const void *reply, size_t i);

#ifdef __cplusplus
}
#endif
#endif
