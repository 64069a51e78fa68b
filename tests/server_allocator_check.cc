// Built with ix_add_server(), exactly as ixnode and ixproxy are: proves that such a process
// allocates from mimalloc (malloc, operator new, and memory freed on another thread).
#include <mimalloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) ++failures;
  };
  void* p = std::calloc(1, 100);
  check(mi_is_in_heap_region(p), "malloc() memory comes from mimalloc");
  std::free(p);
  auto s = std::make_unique<std::string>(1000, 'x');
  check(mi_is_in_heap_region(s.get()) && mi_is_in_heap_region(s->data()), "operator new memory comes from mimalloc");
  void* from_thread = nullptr;
  std::thread([&] { from_thread = std::calloc(1, 4096); }).join();
  check(mi_is_in_heap_region(from_thread), "another thread's malloc() comes from mimalloc");
  std::free(from_thread);
  std::printf("%d passed, %d failed\n", 3 - failures, failures);
  return failures == 0 ? 0 : 1;
}
