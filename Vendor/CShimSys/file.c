// Page-cache residency of a file range, so the loop can tell whether `sendfile` would wait
// for the disk. cachestat(2) (Linux 6.5, one call, needs only read access) when the kernel has
// it; else mincore(2) on a mapping that is never touched (no page is faulted in).
#define _GNU_SOURCE 1
#include "CShimSys.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture (Linux 6.5) */
#endif

struct cachestat_range { uint64_t off, len; };
struct cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

int CShim_file_cached(int fd, int64_t off, int64_t len) {
    if (off < 0 || len <= 0) return 1;
    long page = sysconf(_SC_PAGESIZE);
    int64_t first = off / page, end = (off + len + page - 1) / page;
    static atomic_int no_cachestat; /* set once the kernel said no */
    if (!atomic_load_explicit(&no_cachestat, memory_order_relaxed)) {
        struct cachestat_range r = { (uint64_t)off, (uint64_t)len };
        struct cachestat cs;
        if (syscall(__NR_cachestat, fd, &r, &cs, 0) == 0) return cs.nr_cache >= (uint64_t)(end - first);
        if (errno == ENOSYS || errno == EPERM) atomic_store_explicit(&no_cachestat, 1, memory_order_relaxed);
        else return -1;
    }
    size_t bytes = (size_t)(end - first) * (size_t)page;
    void *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, (off_t)(first * page));
    if (map == MAP_FAILED) return -1;
    unsigned char vec[1024];
    int cached = 1;
    for (int64_t done = 0; done < end - first && cached; done += (int64_t)sizeof vec) {
        int64_t n = end - first - done < (int64_t)sizeof vec ? end - first - done : (int64_t)sizeof vec;
        if (mincore((char *)map + done * page, (size_t)n * (size_t)page, vec) != 0) { cached = -1; break; }
        for (int64_t i = 0; i < n; i++) if (!(vec[i] & 1)) { cached = 0; break; }
    }
    munmap(map, bytes);
    return cached;
}
