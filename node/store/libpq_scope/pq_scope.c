/* libix_pq_scope.so: the root of the isolated libpq scope (node/store/libpq_api.h). It has no code
 * of its own; what matters is its dependency list — libix_pq_alloc.so first, then libpq.so.5 — so
 * that, loaded with RTLD_DEEPBIND, libpq and everything it brings (OpenSSL 3, GSSAPI, LDAP) look
 * their symbols up in that list before the process's global scope: OpenSSL's functions in
 * OpenSSL rather than in the BoringSSL linked into our binaries, and malloc in
 * libix_pq_alloc.so, which forwards to the process's allocator. */
__attribute__((visibility("default"))) const char ix_pq_scope_name[] = "ixcluster libpq scope";
