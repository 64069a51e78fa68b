// A token of 12 random hex digits (48 bits from std::random_device), for telling one process's
// or one term's names from another's: a proxy process's instance token, a primary's snapshot
// start token. Not a secret.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace ix {

inline std::string random_token() {
  std::random_device random;
  const uint64_t bits = (static_cast<uint64_t>(random()) << 32 | random()) & 0xffff'ffff'ffffULL;
  char text[16];
  std::snprintf(text, sizeof text, "%012llx", static_cast<unsigned long long>(bits));
  return text;
}

}  // namespace ix
