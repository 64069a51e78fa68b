#include "node/store/libpq_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ix::node {

namespace {

LibpqApi api;
std::string load_error;

void load() {
  int flags = RTLD_NOW | RTLD_LOCAL;
#ifndef IX_SANITIZE_BUILD
  flags |= RTLD_DEEPBIND;
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
  static std::once_flag once;
  std::call_once(once, load);
  if (!load_error.empty()) return Error{0, load_error};
  return &api;
}

const LibpqApi& pq() { return api; }

}  // namespace ix::node
