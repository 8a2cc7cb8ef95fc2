// hiredis 0.14.1 async on our libev loop.
//
// The wrapper (`struct CShim_redis`) is also the context's event-library adapter: it holds the
// two libev watchers hiredis asks for (what hiredis's own libev adapter, a header of static
// functions, would allocate), so it sees the adapter's cleanup hook — the one thing hiredis
// calls on every path that frees a context: after the disconnect callback's turn, after a
// failed connect, and when a context that never connected is disconnected (a connect
// timeout), which calls neither callback. The wrapper is freed there, or in the disconnect
// callback when one follows: exactly once on every path.
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
    struct ev_loop *loop;
};

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

static void release(struct CShim_redis *r) {
    live_adjust(r->loop, -1);
    free(r);
}

// MARK: - Event-library hooks (the shape of hiredis's libev adapter)

static void read_event(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    redisAsyncHandleRead(((struct CShim_redis *)w->data)->ac);
}

static void write_event(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    redisAsyncHandleWrite(((struct CShim_redis *)w->data)->ac);
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

/// hiredis is freeing the context: after the pending callbacks got NULL replies, before the
/// disconnect callback, which it calls only for a context that was connected.
static void cleanup(void *p) {
    struct CShim_redis *r = p;
    del_read(r);
    del_write(r);
    if (!(r->ac->c.flags & REDIS_CONNECTED)) release(r); // nothing of this context calls back again
}

// MARK: - hiredis callbacks

static void connected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_connect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
}

static void disconnected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_disconnect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
    release(r);
}

static void replied(redisAsyncContext *ac, void *reply, void *privdata) {
    struct CShim_redis *r = ac->data;
    r->on_reply(r->ctx, reply, (long)privdata);
}

// MARK: - API

CShim_redis *CShim_redis_connect(CShim_loop *loop, const char *host, int port, void *ctx,
                                 CShim_redis_event_cb on_connect, CShim_redis_event_cb on_disconnect,
                                 CShim_redis_reply_cb on_reply, char *err, size_t err_len) {
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        snprintf(err, err_len, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    struct CShim_redis *r = calloc(1, sizeof *r);
    if (!r) { redisAsyncFree(ac); snprintf(err, err_len, "out of memory"); return NULL; }
    r->ac = ac; r->ctx = ctx;
    r->on_connect = on_connect; r->on_disconnect = on_disconnect; r->on_reply = on_reply;
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
    return redisAsyncCommandArgv(r->ac, replied, (void *)tag, argc, argv, argvlen) == REDIS_OK ? 0 : -1;
}

void CShim_redis_disconnect(CShim_redis *r) { redisAsyncDisconnect(r->ac); }

void CShim_redis_free(CShim_redis *r) { redisAsyncFree(r->ac); }

void CShim_redis_flush(CShim_redis *r) {
    redisContext *c = &r->ac->c;
    if ((c->flags & REDIS_CONNECTED) && sdslen(c->obuf) > 0) redisAsyncHandleWrite(r->ac);
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
