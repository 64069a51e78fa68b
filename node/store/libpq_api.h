// libpq, loaded at run time: the functions PostgresStore (and `ixctl store copy`) call, through
// one table of pointers filled once per process.
//
// Why not link libpq: our servers link BoringSSL, and libpq links Debian's OpenSSL 3. Linked
// into one process, libpq's versioned OpenSSL references bind to BoringSSL's unversioned symbols
// of the same names, and the first TLS handshake with PostgreSQL (sslmode=require, verify-full,
// or the default "prefer" against a server with ssl=on) crashes. dlopen() with RTLD_DEEPBIND
// makes libpq and the OpenSSL it brings resolve their symbols among themselves first — but also
// malloc and free, which is only safe while the process allocates with the C library's malloc:
// in a process whose malloc is replaced (ixnode links mimalloc), libpq would free with glibc what
// glibc's own functions allocated with mimalloc. So:
//   - C library malloc (ixctl, the tests): RTLD_DEEPBIND, and TLS to PostgreSQL works;
//   - a replaced malloc (ixnode), or a sanitizer build: a plain dlopen(), and no TLS —
//     libpq_tls_available() is false, and check_postgres_conninfo() (postgres_store.h) refuses
//     an sslmode other than "disable" and makes "disable" the default, so nothing crashes.
//
// Thread-safe: load_libpq() may be called from any thread; the table never changes afterwards.
#pragma once

#include <libpq-fe.h>

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

}  // namespace ix::node
