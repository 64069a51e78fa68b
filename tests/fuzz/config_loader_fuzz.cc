// libFuzzer target: the configuration loader on arbitrary text. Whatever the file says, loading
// must end in a configuration or in errors that name a line — never in a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cluster-config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ix::config::LoadResult result = ix::config::load_config_text(text, "fuzz.toml", "/tmp");
  if (!result.ok() && result.errors.empty()) std::abort();  // refused without saying why
  return 0;
}
