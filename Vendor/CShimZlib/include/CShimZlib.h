// CShimZlib: zlib: deflate and inflate streams.
//
// Part of Runwire's C door, split per library so that a Swift module can import only the C it
// may use (Sources/LAYERS.md). Every function wraps one macro or call, is prefixed `CShim_`, and
// says why it exists. This header never includes the library's own headers.
#ifndef CSHIMZLIB_H
#define CSHIMZLIB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - zlib (deflateInit2/inflateInit2 are macros)

typedef struct CShim_z CShim_z;
enum {
    CShim_Z_OK = 0, CShim_Z_STREAM_END = 1, CShim_Z_NEED_DICT = 2, CShim_Z_BUF_ERROR = -5,
    CShim_Z_DATA_ERROR = -3, CShim_Z_MEM_ERROR = -4, CShim_Z_STREAM_ERROR = -2,
    CShim_Z_NO_FLUSH = 0, CShim_Z_SYNC_FLUSH = 2, CShim_Z_FULL_FLUSH = 3, CShim_Z_FINISH = 4,
};
/// A deflater. window_bits: 8..15 raw deflate as negative (-15), gzip as 16+15 (31).
CShim_z *CShim_deflate_new(int level, int window_bits, int mem_level);
/// An inflater with the same window_bits conventions.
CShim_z *CShim_inflate_new(int window_bits);
/// One deflate/inflate step over the given buffers; reports bytes consumed and produced.
/// Returns zlib's status code.
int CShim_z_deflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced);
int CShim_z_inflate(CShim_z *z, const void *in, size_t in_len, void *out, size_t out_cap,
                    int flush, size_t *consumed, size_t *produced);
/// Resets the stream to its initial state (drops the sliding window; keeps the allocation).
int CShim_z_reset(CShim_z *z);
void CShim_z_free(CShim_z *z);

#ifdef __cplusplus
}
#endif
#endif
