// CShimCrypto: OpenSSL: hashes, HMAC, base64, random bytes.
//
// Part of Runwire's C door, split per library so that a Swift module can import only the C it
// may use (Sources/LAYERS.md). Every function wraps one macro or call, is prefixed `CShim_`, and
// says why it exists. This header never includes the library's own headers.
#ifndef CSHIMCRYPTO_H
#define CSHIMCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
