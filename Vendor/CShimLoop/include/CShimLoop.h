// CShimLoop: libev: the loop and its watchers.
//
// Part of Runwire's C door, split per library so that a Swift module can import only the C it
// may use (Sources/LAYERS.md). Every function wraps one macro or call, is prefixed `CShim_`, and
// says why it exists. This header never includes the library's own headers.
#ifndef CSHIMLOOP_H
#define CSHIMLOOP_H

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif
#endif
