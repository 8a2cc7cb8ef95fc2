// zlib wrappers: deflateInit2/inflateInit2 are macros, and z_stream is a large struct Swift
// should not lay out. A CShim_z is a heap z_stream plus which direction it runs.
#include "CShimZlib.h"
#include <stdlib.h>
#include <zlib.h>

struct CShim_z { z_stream s; int inflating; };

CShim_z *CShim_deflate_new(int level, int window_bits, int mem_level) {
    CShim_z *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (deflateInit2(&z->s, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

CShim_z *CShim_inflate_new(int window_bits) {
    CShim_z *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->inflating = 1;
    if (inflateInit2(&z->s, window_bits) != Z_OK) { free(z); return NULL; }
    return z;
}

static int step(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap, int flush,
                size_t *consumed, size_t *produced) {
    z->s.next_in = (Bytef *)in;
    z->s.avail_in = (uInt)in_len;
    z->s.next_out = out;
    z->s.avail_out = (uInt)out_cap;
    int rc = z->inflating ? inflate(&z->s, flush) : deflate(&z->s, flush);
    *consumed = in_len - z->s.avail_in;
    *produced = out_cap - z->s.avail_out;
    return rc;
}

int CShim_z_deflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced) {
    return step(z, in, in_len, out, out_cap, flush, consumed, produced);
}
int CShim_z_inflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced) {
    return step(z, in, in_len, out, out_cap, flush, consumed, produced);
}
int CShim_z_reset(CShim_z *z) { return z->inflating ? inflateReset(&z->s) : deflateReset(&z->s); }
void CShim_z_free(CShim_z *z) {
    if (!z) return;
    if (z->inflating) inflateEnd(&z->s); else deflateEnd(&z->s);
    free(z);
}
