// The transaction a node commits for one submit (the interaction, its event, the ID counter),
// numbered n: what the store tests commit. Header-only; any thread.
#pragma once

#include <string>
#include <vector>

#include "node/store/store.h"

namespace ix::node {

// GCC 12 at -O2 reports the variant's inactive members here as maybe-uninitialized (a known
// false positive with std::variant temporaries).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline Transaction sample_submit(int n) {
  Transaction t;
  std::string id = "p1." + std::to_string(n);
  t.mutations.push_back(PutInteraction{{id, "101", 1, std::vector<uint8_t>{1, 2, static_cast<uint8_t>(n)}}});
  t.mutations.push_back(AppendEvent{{static_cast<uint64_t>(n), 1000 + n, "101", std::vector<uint8_t>{9, static_cast<uint8_t>(n)}}});
  t.mutations.push_back(SetCounter{"interaction", static_cast<uint64_t>(n)});
  return t;
}
#pragma GCC diagnostic pop

}  // namespace ix::node
