// Replays a fuzz target's committed seed corpus as an ordinary test, so every CI run exercises
// the inputs the fuzzers found interesting without needing clang's libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

TEST(CorpusReplay, EveryCommittedInputRunsCleanly) {
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(IX_CORPUS_DIR)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(bytes.data(), bytes.size()), 0);
    ++replayed;
  }
  EXPECT_GE(replayed, 10u) << "the seed corpus in " << IX_CORPUS_DIR << " is missing";
}
