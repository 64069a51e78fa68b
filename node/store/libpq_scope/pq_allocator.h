/* The allocator table the loader (node/store/libpq_api.cc) hands to libix_pq_alloc.so
 * (pq_alloc.c) with ix_pq_set_allocator(): the process's malloc and its family. One declaration
 * for both sides, in C, so that the layout they share cannot drift. */
#ifndef IX_NODE_STORE_LIBPQ_SCOPE_PQ_ALLOCATOR_H
#define IX_NODE_STORE_LIBPQ_SCOPE_PQ_ALLOCATOR_H

#include <stddef.h>

struct ix_pq_allocator {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*reallocarray)(void*, size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
};

#endif
