// CShimRedis: hiredis: async connections on a CShimLoop loop, and reply access.
//
// Part of Runwire's C door, split per library so that a Swift module can import only the C it
// may use (Sources/LAYERS.md). Every function wraps one macro or call, is prefixed `CShim_`, and
// says why it exists. This header never includes the library's own headers.
#ifndef CSHIMREDIS_H
#define CSHIMREDIS_H

#include <stddef.h>
#include "CShimLoop.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - hiredis (async, on a libev loop; the shim is the context's libev adapter)

typedef struct CShim_redis CShim_redis;
/// Connect (status 0 = connected) and disconnect (status 0 = asked for) events; `err` says why.
typedef void (*CShim_redis_event_cb)(void *ctx, int status, const char *err);
/// A reply (a `redisReply *`, NULL when the connection went away) to the command sent with `tag`.
typedef void (*CShim_redis_reply_cb)(void *ctx, const void *reply, long tag);
/// The last call for a handle: the shim has freed it, and nothing calls `ctx` again.
typedef void (*CShim_redis_free_cb)(void *ctx);

enum {
    CShim_REPLY_STRING = 1, CShim_REPLY_ARRAY = 2, CShim_REPLY_INTEGER = 3, CShim_REPLY_NIL = 4,
    CShim_REPLY_STATUS = 5, CShim_REPLY_ERROR = 6,
};

/// Starts a non-blocking connect on `loop`. NULL (with `err` filled) when it fails at once.
/// Otherwise the handle lives until `on_free(ctx)`, which comes exactly once on every path —
/// after a failed connect, after the disconnect, after closing a connection that never
/// connected (which calls neither event callback) — and only once hiredis has returned, so
/// `ctx` must stay valid until then. Until `on_free` the handle may be passed to the calls
/// below; once the connection has ended they do nothing.
CShim_redis *CShim_redis_connect(CShim_loop *loop, const char *host, int port, void *ctx,
                                 CShim_redis_event_cb on_connect, CShim_redis_event_cb on_disconnect,
                                 CShim_redis_reply_cb on_reply, CShim_redis_free_cb on_free,
                                 char *err, size_t err_len);
/// Sends a command (arguments are copied); its reply arrives through `on_reply` with `tag`.
/// Returns 0, or -1 when the connection is closing or gone.
int CShim_redis_command(CShim_redis *r, int argc, const char **argv, const size_t *argvlen, long tag);
/// Closes after pending replies arrive: `on_disconnect` follows (for an established
/// connection), then `on_free`. Safe inside any callback of the handle (connect, reply,
/// disconnect): the close is then done once hiredis has returned.
void CShim_redis_disconnect(CShim_redis *r);
/// Closes at once: pending callbacks get a NULL reply, then `on_disconnect` (for an
/// established connection) and `on_free`. Inside a callback, done once hiredis has returned.
void CShim_redis_free(CShim_redis *r);
/// Writes buffered commands now (instead of at the next write readiness): called just before
/// the loop sleeps, so a command issued in this iteration reaches Redis without a loop pass.
/// May end the connection (its disconnect callback runs) when the write fails. Does nothing
/// inside a callback of the handle (the write watcher sends the commands).
void CShim_redis_flush(CShim_redis *r);
/// Diagnostic (tests): handles not yet freed on `loop` (NULL: on every loop).
size_t CShim_redis_live_count(CShim_loop *loop);

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
