// hiredis 0.14.1 async on our libev loop. The libev adapter is a header of static functions
// using libev macros, so it is included here and nowhere else. hiredis frees its context right
// after the disconnect callback (and after a failed connect), so our wrapper goes with it.
#include "CShimRedis.h"
#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CShim_redis {
    redisAsyncContext *ac;
    void *ctx;
    CShim_redis_event_cb on_connect, on_disconnect;
    CShim_redis_reply_cb on_reply;
};

static void connected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_connect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
    if (status != REDIS_OK) free(r); /* hiredis frees ac itself; no disconnect callback follows */
}

static void disconnected(const redisAsyncContext *ac, int status) {
    struct CShim_redis *r = ac->data;
    r->on_disconnect(r->ctx, status == REDIS_OK ? 0 : -1, status == REDIS_OK ? "" : ac->errstr);
    free(r);
}

static void replied(redisAsyncContext *ac, void *reply, void *privdata) {
    struct CShim_redis *r = ac->data;
    r->on_reply(r->ctx, reply, (long)privdata);
}

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
    ac->data = r;
    redisLibevAttach((struct ev_loop *)loop, ac);
    redisAsyncSetConnectCallback(ac, connected);
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
