#include "node/store/libpq_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ix::node {

namespace {

LibpqApi api;
std::string load_error;
std::once_flag once;

bool tls_available = false;

// Whether malloc in this process is the C library's (not replaced, as ixnode's mimalloc does).
// Unused in sanitizer builds, whose allocator is the sanitizer's.
[[maybe_unused]] bool allocator_is_libc() {
  void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  const bool same = libc != nullptr && ::dlsym(libc, "malloc") == ::dlsym(RTLD_DEFAULT, "malloc");
  if (libc != nullptr) ::dlclose(libc);
  return same;
}

void load() {
  int flags = RTLD_NOW | RTLD_LOCAL;
#ifndef IX_SANITIZE_BUILD
  if (allocator_is_libc()) {
    flags |= RTLD_DEEPBIND;
    tls_available = true;
  }
#endif
  void* handle = ::dlopen("libpq.so.5", flags);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    load_error = "cannot load libpq (install libpq5): " + std::string(why ? why : "unknown error");
    return;
  }
  LibpqApi loaded;
  bool complete = true;
#define IX_LIBPQ_RESOLVE(name)                                                    \
  loaded.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name));     \
  if (loaded.name == nullptr) {                                                  \
    load_error = "libpq.so.5 has no " #name " (libpq 14 or newer is needed)";    \
    complete = false;                                                            \
  }
  IX_LIBPQ_FUNCTIONS(IX_LIBPQ_RESOLVE)
#undef IX_LIBPQ_RESOLVE
  if (complete) api = loaded;
}

}  // namespace

Result<const LibpqApi*> load_libpq() {
  std::call_once(once, load);
  if (!load_error.empty()) return Error{0, load_error};
  return &api;
}

const LibpqApi& pq() { return api; }

bool libpq_tls_available() {
  std::call_once(once, load);
  return tls_available && load_error.empty();
}

}  // namespace ix::node
