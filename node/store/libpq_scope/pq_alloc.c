/* libix_pq_alloc.so: the allocator that libpq, OpenSSL and their dependencies call inside the
 * isolated libpq scope (node/store/libpq_api.h): malloc and its family, forwarded to the process's
 * own allocator (mimalloc in ixnode, the C library's elsewhere), whose functions the loader hands
 * over with ix_pq_set_allocator() before libpq is loaded. Embedded in the binaries and loaded from
 * memory; no C library of its own (-nostdlib), so nothing here can call back into itself.
 * Thread-safe: the table is written once, before any library that calls these is loaded. */
#include "pq_allocator.h"

static struct ix_pq_allocator a;

#define IX_EXPORT __attribute__((visibility("default")))

IX_EXPORT void ix_pq_set_allocator(const struct ix_pq_allocator* allocator) { a = *allocator; }

IX_EXPORT void* malloc(size_t n) { return a.malloc(n); }
IX_EXPORT void free(void* p) { a.free(p); }
IX_EXPORT void* calloc(size_t n, size_t size) { return a.calloc(n, size); }
IX_EXPORT void* realloc(void* p, size_t n) { return a.realloc(p, n); }
IX_EXPORT void* reallocarray(void* p, size_t n, size_t size) { return a.reallocarray(p, n, size); }
IX_EXPORT void* memalign(size_t alignment, size_t n) { return a.memalign(alignment, n); }
IX_EXPORT void* aligned_alloc(size_t alignment, size_t n) { return a.aligned_alloc(alignment, n); }
IX_EXPORT int posix_memalign(void** out, size_t alignment, size_t n) { return a.posix_memalign(out, alignment, n); }
IX_EXPORT void* valloc(size_t n) { return a.valloc(n); }
IX_EXPORT void* pvalloc(size_t n) { return a.pvalloc(n); }
IX_EXPORT size_t malloc_usable_size(void* p) { return a.malloc_usable_size(p); }
