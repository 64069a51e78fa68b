#include "node/store/libpq_api.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "node/store/libpq_scope/pq_allocator.h"

namespace ix::node {

#ifndef IX_SANITIZE_BUILD
// The two libraries of the isolated libpq scope (node/CMakeLists.txt embeds them).
extern const unsigned char kPqAllocLibrary[];
extern const size_t kPqAllocLibrary_size;
extern const unsigned char kPqScopeLibrary[];
extern const size_t kPqScopeLibrary_size;
#endif

namespace {

LibpqApi api;
std::string load_error;
std::string tls_error;
std::once_flag once;

#ifndef IX_SANITIZE_BUILD
using PqAllocator = ix_pq_allocator;  // libpq_scope/pq_allocator.h

// dlopen()s a library from bytes in memory (a memfd); the handle, or null and why. The memfd is
// kept open in `fd` (the caller closes it once it loaded everything): the loader knows a library
// by its path, and a closed descriptor's number — so the next library's path — may come again.
void* open_from_memory(const char* name, const unsigned char* bytes, size_t size, int flags, int& fd, std::string& why) {
  fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    why = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      why = std::string("writing ") + name + ": " + std::strerror(errno);
      return nullptr;
    }
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  void* handle = ::dlopen(path.c_str(), flags);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    why = std::string(name) + ": " + (error ? error : "dlopen failed");
  }
  return handle;
}

// Loads libpq inside the isolated scope; its handle (dlsym finds libpq's functions through it).
void* open_isolated(std::string& why) {
  int fds[2] = {-1, -1};
  void* scope = nullptr;
  void* alloc = open_from_memory("libix_pq_alloc.so", kPqAllocLibrary, kPqAllocLibrary_size, RTLD_NOW | RTLD_LOCAL, fds[0], why);
  auto set_allocator = alloc ? reinterpret_cast<void (*)(const PqAllocator*)>(::dlsym(alloc, "ix_pq_set_allocator")) : nullptr;
  if (alloc != nullptr && set_allocator == nullptr) why = "libix_pq_alloc.so has no ix_pq_set_allocator";
  if (set_allocator != nullptr) {
    // This process's allocator, as its own code calls it (mimalloc in ixnode).
    const PqAllocator process{&::malloc,        &::free,           &::calloc, &::realloc, &::reallocarray,      &::memalign,
                              &::aligned_alloc, &::posix_memalign, &::valloc, &::pvalloc, &::malloc_usable_size};
    set_allocator(&process);
    scope = open_from_memory("libix_pq_scope.so", kPqScopeLibrary, kPqScopeLibrary_size, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND,
                             fds[1], why);
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);  // the mappings stay
  }
  return scope;
}
#endif

void load() {
  void* handle = nullptr;
#ifndef IX_SANITIZE_BUILD
  handle = open_isolated(tls_error);
  if (handle == nullptr) tls_error = "the isolated libpq scope could not be loaded (" + tls_error + ")";
#else
  tls_error = "this is a sanitizer build, and the sanitizers refuse the RTLD_DEEPBIND that keeps libpq's OpenSSL apart";
#endif
  if (handle == nullptr) handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
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
  return tls_error.empty() && load_error.empty();
}

std::string libpq_tls_unavailable_reason() {
  std::call_once(once, load);
  return load_error.empty() ? tls_error : load_error;
}

}  // namespace ix::node
