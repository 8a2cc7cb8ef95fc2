// hiredis 0.14.1 async on our libev loop.
//
// The wrapper (`struct CShim_redis`) is also the context's event-library adapter: it holds the
// two libev watchers hiredis asks for (what hiredis's own libev adapter, a header of static
// functions, would allocate). So every call into hiredis that can run callbacks goes through
// this file, and the wrapper knows when hiredis is on the stack. What it works around:
// - hiredis frees its context after the disconnect callback, after a failed connect, and — with
//   no callback at all — when a context that never connected is disconnected (a connect
//   timeout). The adapter's cleanup hook is the one thing it calls on every one of those paths:
//   there the wrapper learns the context is gone. The wrapper itself is freed once hiredis has
//   returned (`settle`), and `on_free` then tells the owner that nothing more will call it.
// - `redisAsyncDisconnect` and `redisAsyncFree` free the context at once unless hiredis is in a
//   reply callback (its REDIS_IN_CALLBACK flag); the connect callback runs without that flag,
//   and a free there left hiredis running on a freed context. So a close asked for while
//   hiredis is on the stack is only recorded, and done by `settle` once hiredis has returned.
#include "CShimRedis.h"
#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CShim_redis {
    ev_io rev, wev;
    int reading, writing;
    redisAsyncContext *ac;
    void *ctx;
    CShim_redis_event_cb on_connect, on_disconnect;
    CShim_redis_reply_cb on_reply;
    CShim_redis_free_cb on_free;
    struct ev_loop *loop;
    /// Calls into hiredis made through this file that are on the stack.
    int depth;
    /// A close asked for while `depth > 0`, done once hiredis has returned.
    int want;
};

enum { WANT_NOTHING, WANT_DISCONNECT, WANT_FREE };

/// Live wrappers per loop, for `CShim_redis_live_count` (a diagnostic). Counts only: a list of
/// the wrappers would keep a leaked one reachable, hiding it from LeakSanitizer.
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { struct ev_loop *loop; size_t n; } live[64];
static size_t live_elsewhere; // wrappers on loops beyond the table's 64

static void live_adjust(struct ev_loop *loop, int delta) {
    pthread_mutex_lock(&live_lock);
    size_t i = 0, unused = 64;
    for (; i < 64 && live[i].loop != loop; i++)
        if (unused == 64 && live[i].n == 0) unused = i;
    if (i == 64 && delta > 0 && unused < 64) { i = unused; live[i].loop = loop; }
    if (i < 64) live[i].n += delta; else live_elsewhere += delta;
    pthread_mutex_unlock(&live_lock);
}

size_t CShim_redis_live_count(CShim_loop *loop) {
    size_t n = 0;
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < 64; i++)
        if (!loop || live[i].loop == (struct ev_loop *)loop) n += live[i].n;
    if (!loop) n += live_elsewhere;
    pthread_mutex_unlock(&live_lock);
    return n;
}

// MARK: - Entering and leaving hiredis

/// Called after every call into hiredis (each preceded by `r->depth++`): once hiredis is off
/// the stack, does the close asked for meanwhile, and frees the wrapper when the context is
/// gone, `on_free` last.
static void settle(struct CShim_redis *r) {
    if (--r->depth > 0) return;
    while (r->ac && r->want != WANT_NOTHING) {
        int want = r->want;
        r->want = WANT_NOTHING;
        r->depth++; // callbacks run by this very call record their closes in `want`
        if (want == WANT_FREE) redisAsyncFree(r->ac); else redisAsyncDisconnect(r->ac);
        r->depth--;
    }
    if (r->ac) return;
    live_adjust(r->loop, -1);
    void *ctx = r->ctx;
    CShim_redis_free_cb on_free = r->on_free;
    free(r);
    on_free(ctx);
}

// MARK: - Event-library hooks (the shape of hiredis's libev adapter)

static void read_event(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    struct CShim_redis *r = w->data;
    r->depth++;
    redisAsyncHandleRead(r->ac);
    settle(r);
}

static void write_event(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    struct CShim_redis *r = w->data;
    r->depth++;
    redisAsyncHandleWrite(r->ac);
    settle(r);
}

static void add_read(void *p) {
    struct CShim_redis *r = p;
    if (!r->reading) { r->reading = 1; ev_io_start(r->loop, &r->rev); }
}

static void del_read(void *p) {
    struct CShim_redis *r = p;
    if (r->reading) { r->reading = 0; ev_io_stop(r->loop, &r->rev); }
}

static void add_write(void *p) {
    struct CShim_redis *r = p;
    if (!r->writing) { r->writing = 1; ev_io_start(r->loop, &r->wev); }
}

static void del_write(void *p) {
    struct CShim_redis *r = p;
    if (r->writing) { r->writing = 0; ev_io_stop(r->loop, &r->wev); }
}

/// hiredis is freeing the context (always inside a call made through this file): after the
/// pending callbacks got NULL replies, before the disconnect callback if one follows.
static void cleanup(void *p) {
    struct CShim_redis *r = p;
    del_read(r);
    del_write(r);
    r->ac = NULL; // `settle` frees the wrapper once hiredis has returned
}

// MARK: - hiredis callbacks

static void connected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_connect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
}

static void disconnected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_disconnect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
}

static void replied(redisAsyncContext *ac, void *reply, void *privdata) {
    struct CShim_redis *r = ac->data;
    r->on_reply(r->ctx, reply, (long)privdata);
}

// MARK: - API

CShim_redis *CShim_redis_connect(CShim_loop *loop, const char *host, int port, void *ctx,
                                 CShim_redis_event_cb on_connect, CShim_redis_event_cb on_disconnect,
                                 CShim_redis_reply_cb on_reply, CShim_redis_free_cb on_free,
                                 char *err, size_t err_len) {
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        snprintf(err, err_len, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac); // no callbacks are set yet
        return NULL;
    }
    struct CShim_redis *r = calloc(1, sizeof *r);
    if (!r) { redisAsyncFree(ac); snprintf(err, err_len, "out of memory"); return NULL; }
    r->ac = ac; r->ctx = ctx;
    r->on_connect = on_connect; r->on_disconnect = on_disconnect; r->on_reply = on_reply; r->on_free = on_free;
    r->loop = (struct ev_loop *)loop;
    ev_io_init(&r->rev, read_event, ac->c.fd, EV_READ);
    ev_io_init(&r->wev, write_event, ac->c.fd, EV_WRITE);
    r->rev.data = r;
    r->wev.data = r;
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    live_adjust(r->loop, 1);
    redisAsyncSetConnectCallback(ac, connected); // after the hooks: it arms the write watcher
    redisAsyncSetDisconnectCallback(ac, disconnected);
    return r;
}

int CShim_redis_command(CShim_redis *r, int argc, const char **argv, const size_t *argvlen, long tag) {
    if (!r->ac || r->want != WANT_NOTHING) return -1; // gone, or a close is pending
    return redisAsyncCommandArgv(r->ac, replied, (void *)tag, argc, argv, argvlen) == REDIS_OK ? 0 : -1;
}

/// Records the close (a free outranks a disconnect), and does it now unless hiredis is on the
/// stack: then `settle` does it once hiredis has returned.
static void request(struct CShim_redis *r, int want) {
    if (!r->ac) return;
    if (want > r->want) r->want = want;
    if (r->depth > 0) return;
    r->depth++;
    settle(r);
}

void CShim_redis_disconnect(CShim_redis *r) { request(r, WANT_DISCONNECT); }

void CShim_redis_free(CShim_redis *r) { request(r, WANT_FREE); }

void CShim_redis_flush(CShim_redis *r) {
    if (!r->ac || r->depth > 0) return; // inside a callback: the write watcher sends it
    redisContext *c = &r->ac->c;
    if (!(c->flags & REDIS_CONNECTED) || sdslen(c->obuf) == 0) return;
    r->depth++;
    redisAsyncHandleWrite(r->ac);
    settle(r);
}

int CShim_reply_type(const void *reply) { return ((const redisReply *)reply)->type; }
long long CShim_reply_integer(const void *reply) { return ((const redisReply *)reply)->integer; }
const char *CShim_reply_str(const void *reply, size_t *len) {
    const redisReply *x = reply;
    *len = x->len;
    return x->str;
}
size_t CShim_reply_elements(const void *reply) { return ((const redisReply *)reply)->elements; }
const void *CShim_reply_element(const void *reply, size_t i) { return ((const redisReply *)reply)->element[i]; }
