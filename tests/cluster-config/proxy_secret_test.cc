// The [proxy-auth] secret as nodes and proxies read it at start: from a file or an environment
// variable, trimmed, long enough, and a clear error naming the source otherwise.
#include "cluster-config/proxy_secret.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ix::config {
namespace {

class ProxySecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ix-secret-" + std::to_string(::getpid()) + "-" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    ::unsetenv("IX_TEST_PROXY_SECRET");
  }
  std::string file(const std::string& content) {
    const std::string path = (dir_ / "proxy.secret").string();
    std::ofstream(path) << content;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ProxySecretTest, FromAFileWithoutItsSurroundingWhiteSpace) {
  Result<std::string> secret = load_proxy_secret(ProxyAuth{file("  0123456789abcdef0123\n"), ""});
  ASSERT_TRUE(secret) << secret.error().text;
  EXPECT_EQ(secret.value(), "0123456789abcdef0123");
}

TEST_F(ProxySecretTest, FromAnEnvironmentVariable) {
  ::setenv("IX_TEST_PROXY_SECRET", "env-secret-0123456789", 1);
  Result<std::string> secret = load_proxy_secret(ProxyAuth{"", "IX_TEST_PROXY_SECRET"});
  ASSERT_TRUE(secret) << secret.error().text;
  EXPECT_EQ(secret.value(), "env-secret-0123456789");
}

TEST_F(ProxySecretTest, AMissingSourceOrAShortSecretIsAnErrorNamingIt) {
  const std::string missing = (dir_ / "nowhere.secret").string();
  Result<std::string> no_file = load_proxy_secret(ProxyAuth{missing, ""});
  ASSERT_FALSE(no_file);
  EXPECT_NE(no_file.error().text.find("cannot read [proxy-auth] secret-file \"" + missing + "\""), std::string::npos)
      << no_file.error().text;

  ::unsetenv("IX_TEST_PROXY_SECRET");
  Result<std::string> unset = load_proxy_secret(ProxyAuth{"", "IX_TEST_PROXY_SECRET"});
  ASSERT_FALSE(unset);
  EXPECT_NE(unset.error().text.find("the environment variable IX_TEST_PROXY_SECRET is not set"), std::string::npos)
      << unset.error().text;

  Result<std::string> short_secret = load_proxy_secret(ProxyAuth{file("short\n"), ""});
  ASSERT_FALSE(short_secret);
  EXPECT_NE(short_secret.error().text.find("holds 5 characters; the proxy secret needs at least 16"), std::string::npos)
      << short_secret.error().text;
}

TEST_F(ProxySecretTest, NoProxyAuthSectionMeansNoSecret) {
  ClusterConfig config;
  Result<std::string> secret = load_proxy_secret(config);
  ASSERT_TRUE(secret);
  EXPECT_TRUE(secret.value().empty());
}

}  // namespace
}  // namespace ix::config
