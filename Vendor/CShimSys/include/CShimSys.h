// CShimSys: sockets, files and process settings (plain system calls, clearer in C).
//
// Part of Runwire's C door, split per library so that a Swift module can import only the C it
// may use (Sources/LAYERS.md). Every function wraps one macro or call, is prefixed `CShim_`, and
// says why it exists. This header never includes the library's own headers.
#ifndef CSHIMSYS_H
#define CSHIMSYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
