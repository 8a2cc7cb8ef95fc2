// libev wrappers: libev's watcher API is macros (ev_io_init, ev_timer_init, ...), which Swift
// cannot call. Each watcher is a small struct whose first member is the libev watcher, so the
// trampoline casts back from the watcher to reach the Swift callback; `data` holds the context.
#include "CShimLoop.h"
#include <ev.h>
#include <stdlib.h>

struct CShim_io { ev_io w; CShim_cb cb; };
struct CShim_timer { ev_timer w; CShim_cb cb; };
struct CShim_async { ev_async w; CShim_cb cb; };
struct CShim_prepare { ev_prepare w; CShim_cb cb; };
struct CShim_signal { ev_signal w; CShim_cb cb; };

#define L(loop) ((struct ev_loop *)(loop))

CShim_loop *CShim_loop_new(void) {
    // EVFLAG_NOENV: LIBEV_FLAGS must not change a production server's backend behind our back.
    struct ev_loop *l = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!l) l = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    return (CShim_loop *)l;
}
void CShim_loop_free(CShim_loop *loop) { ev_loop_destroy(L(loop)); }
void CShim_loop_run(CShim_loop *loop) { ev_run(L(loop), 0); }
void CShim_loop_break(CShim_loop *loop) { ev_break(L(loop), EVBREAK_ALL); }
double CShim_loop_now(CShim_loop *loop) { return ev_now(L(loop)); }
unsigned CShim_loop_backend(CShim_loop *loop) { return ev_backend(L(loop)); }
unsigned CShim_loop_iteration(CShim_loop *loop) { return ev_iteration(L(loop)); }
void CShim_loop_unref(CShim_loop *loop) { ev_unref(L(loop)); }
void CShim_loop_ref(CShim_loop *loop) { ev_ref(L(loop)); }

static void io_cb(struct ev_loop *l, ev_io *w, int revents) {
    (void)l;
    ((struct CShim_io *)w)->cb(w->data, w->fd, revents);
}
CShim_io *CShim_io_new(CShim_cb cb, void *ctx, int fd, int events) {
    struct CShim_io *s = malloc(sizeof *s);
    if (!s) return NULL;
    ev_io_init(&s->w, io_cb, fd, events);
    s->w.data = ctx;
    s->cb = cb;
    return s;
}
void CShim_io_start(CShim_loop *loop, CShim_io *w) { ev_io_start(L(loop), &w->w); }
void CShim_io_stop(CShim_loop *loop, CShim_io *w) { ev_io_stop(L(loop), &w->w); }
void CShim_io_set_events(CShim_loop *loop, CShim_io *w, int events) {
    if ((w->w.events & (EV_READ | EV_WRITE)) == events) return;
    int active = ev_is_active(&w->w);
    if (active) ev_io_stop(L(loop), &w->w);
    ev_io_set(&w->w, w->w.fd, events);
    if (active) ev_io_start(L(loop), &w->w);
}
int CShim_io_events(const CShim_io *w) { return w->w.events & (EV_READ | EV_WRITE); }
void CShim_io_set_ctx(CShim_io *w, void *ctx) { w->w.data = ctx; }
void CShim_io_free(CShim_loop *loop, CShim_io *w) {
    if (!w) return;
    ev_io_stop(L(loop), &w->w);
    free(w);
}

static void timer_cb(struct ev_loop *l, ev_timer *w, int revents) {
    (void)l;
    ((struct CShim_timer *)w)->cb(w->data, -1, revents);
}
CShim_timer *CShim_timer_new(CShim_cb cb, void *ctx, double after, double repeat) {
    struct CShim_timer *s = malloc(sizeof *s);
    if (!s) return NULL;
    ev_timer_init(&s->w, timer_cb, after, repeat);
    s->w.data = ctx;
    s->cb = cb;
    return s;
}
void CShim_timer_start(CShim_loop *loop, CShim_timer *w) { ev_timer_start(L(loop), &w->w); }
void CShim_timer_stop(CShim_loop *loop, CShim_timer *w) { ev_timer_stop(L(loop), &w->w); }
void CShim_timer_free(CShim_loop *loop, CShim_timer *w) {
    if (!w) return;
    ev_timer_stop(L(loop), &w->w);
    free(w);
}

static void async_cb(struct ev_loop *l, ev_async *w, int revents) {
    (void)l;
    ((struct CShim_async *)w)->cb(w->data, -1, revents);
}
CShim_async *CShim_async_new(CShim_cb cb, void *ctx) {
    struct CShim_async *s = malloc(sizeof *s);
    if (!s) return NULL;
    ev_async_init(&s->w, async_cb);
    s->w.data = ctx;
    s->cb = cb;
    return s;
}
void CShim_async_start(CShim_loop *loop, CShim_async *w) { ev_async_start(L(loop), &w->w); }
void CShim_async_send(CShim_loop *loop, CShim_async *w) { ev_async_send(L(loop), &w->w); }
void CShim_async_free(CShim_loop *loop, CShim_async *w) {
    if (!w) return;
    ev_async_stop(L(loop), &w->w);
    free(w);
}

static void prepare_cb(struct ev_loop *l, ev_prepare *w, int revents) {
    (void)l;
    ((struct CShim_prepare *)w)->cb(w->data, -1, revents);
}
CShim_prepare *CShim_prepare_new(CShim_cb cb, void *ctx) {
    struct CShim_prepare *s = malloc(sizeof *s);
    if (!s) return NULL;
    ev_prepare_init(&s->w, prepare_cb);
    s->w.data = ctx;
    s->cb = cb;
    return s;
}
void CShim_prepare_start(CShim_loop *loop, CShim_prepare *w) { ev_prepare_start(L(loop), &w->w); }
void CShim_prepare_free(CShim_loop *loop, CShim_prepare *w) {
    if (!w) return;
    ev_prepare_stop(L(loop), &w->w);
    free(w);
}

static void signal_cb(struct ev_loop *l, ev_signal *w, int revents) {
    (void)l;
    ((struct CShim_signal *)w)->cb(w->data, w->signum, revents);
}
CShim_signal *CShim_signal_new(CShim_cb cb, void *ctx, int signum) {
    struct CShim_signal *s = malloc(sizeof *s);
    if (!s) return NULL;
    ev_signal_init(&s->w, signal_cb, signum);
    s->w.data = ctx;
    s->cb = cb;
    return s;
}
void CShim_signal_start(CShim_loop *loop, CShim_signal *w) { ev_signal_start(L(loop), &w->w); }
void CShim_signal_free(CShim_loop *loop, CShim_signal *w) {
    if (!w) return;
    ev_signal_stop(L(loop), &w->w);
    free(w);
}
