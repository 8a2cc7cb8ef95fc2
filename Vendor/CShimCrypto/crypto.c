// OpenSSL wrappers: one spelling for the hashes Runwire uses (WebSocket accept keys, artifact
// digests, signed URLs), so no other module includes OpenSSL headers.
#include "CShimCrypto.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

void CShim_sha1(const void *data, size_t len, uint8_t out[20]) { SHA1(data, len, out); }
void CShim_sha256(const void *data, size_t len, uint8_t out[32]) { SHA256(data, len, out); }

void CShim_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32]) {
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

int CShim_base64_encode(const void *data, size_t len, char *out) {
    return EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

int CShim_equal_ct(const void *a, const void *b, size_t len) { return CRYPTO_memcmp(a, b, len) == 0; }

int CShim_random_bytes(void *out, size_t len) { return RAND_bytes(out, (int)len) == 1; }

struct CShim_sha256_ctx { EVP_MD_CTX *md; };

CShim_sha256_ctx *CShim_sha256_new(void) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return NULL;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(md); return NULL; }
    CShim_sha256_ctx *c = OPENSSL_malloc(sizeof *c);
    if (!c) { EVP_MD_CTX_free(md); return NULL; }
    c->md = md;
    return c;
}
void CShim_sha256_update(CShim_sha256_ctx *c, const void *data, size_t len) { EVP_DigestUpdate(c->md, data, len); }
void CShim_sha256_final(CShim_sha256_ctx *c, uint8_t out[32]) {
    unsigned int n = 32;
    EVP_DigestFinal_ex(c->md, out, &n);
}
void CShim_sha256_free(CShim_sha256_ctx *c) {
    if (!c) return;
    EVP_MD_CTX_free(c->md);
    OPENSSL_free(c);
}
