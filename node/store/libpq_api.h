// libpq, loaded at run time: the functions PostgresStore (and `ixctl store copy`) call, through
// one table of pointers filled once per process.
//
// Why not link libpq: our binaries link BoringSSL, and libpq links Debian's OpenSSL 3. Linked
// into one process, libpq's versioned OpenSSL references bind to BoringSSL's unversioned symbols
// of the same names, and the first TLS handshake with PostgreSQL crashes. So libpq is loaded into
// an isolated scope: dlopen() with RTLD_DEEPBIND of a tiny root library, libix_pq_scope.so,
// whose dependency list is libix_pq_alloc.so, then libpq.so.5. Everything that dlopen() brings in
// (libpq, OpenSSL 3, GSSAPI, LDAP) then looks its symbols up in that list before the process's
// global scope: OpenSSL's functions in OpenSSL, never in BoringSSL — and malloc and its family in
// libix_pq_alloc.so, which forwards them to the process's allocator (ixnode's mimalloc; the C
// library's in ixctl and the tests). Without it, a deep-bound libpq would allocate and free with
// the C library's malloc while the C library's own functions (strdup, getaddrinfo) allocate with
// mimalloc, and free the one with the other. Both libraries are built with the project, embedded
// in the binaries (libpq_scope/) and loaded from memory (memfd), so no file needs installing.
//
// The sanitizers refuse RTLD_DEEPBIND: a sanitizer build loads libpq with a plain dlopen() and
// has no TLS to PostgreSQL — libpq_tls_available() is false, and check_postgres_conninfo()
// (postgres_store.h) refuses an sslmode other than "disable" and makes "disable" the default, so
// nothing crashes.
//
// Thread-safe: load_libpq() may be called from any thread; the table never changes afterwards.
#pragma once

#include <libpq-fe.h>

#include <string>

#include "protocol/result.h"

namespace ix::node {

#define IX_LIBPQ_FUNCTIONS(X)                                                                                   \
  X(PQclear) X(PQcmdTuples) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse) X(PQdb)                 \
  X(PQenterPipelineMode) X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQexitPipelineMode) X(PQfinish)        \
  X(PQfreemem) X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQntuples) X(PQpipelineSync)      \
  X(PQreset) X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsendQueryParams)             \
  X(PQsetNoticeReceiver) X(PQstatus) X(PQtransactionStatus) X(PQsslInUse) X(PQnfields) X(PQfname) X(PQping) X(PQconnectdb) X(PQconsumeInput) X(PQisBusy)

struct LibpqApi {
#define IX_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  IX_LIBPQ_FUNCTIONS(IX_LIBPQ_MEMBER)
#undef IX_LIBPQ_MEMBER
};

// Loads libpq.so.5 on first use; the table, or why it could not be loaded.
Result<const LibpqApi*> load_libpq();

// The loaded table; only after load_libpq() succeeded.
const LibpqApi& pq();

// Whether libpq may use TLS in this process (see above); loads libpq if needed.
bool libpq_tls_available();
// Why not, when libpq_tls_available() is false ("" when it is true).
std::string libpq_tls_unavailable_reason();

}  // namespace ix::node
