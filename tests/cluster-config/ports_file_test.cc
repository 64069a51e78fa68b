// The ports file of ixnode/ixproxy --ports-file: what is written is read back, a missing or
// foreign file reads as nothing, and a rewrite replaces the file whole.
#include "cluster-config/ports_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ix::config {
namespace {

class PortsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ix-ports-file-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(PortsFileTest, WrittenPortsAreReadBackAndTheFileIsJson) {
  ASSERT_TRUE(write_ports_file(path("node.ports"), {40321, 40322}));
  std::optional<BoundPorts> ports = read_ports_file(path("node.ports"));
  ASSERT_TRUE(ports);
  EXPECT_EQ(ports->port, 40321);
  EXPECT_EQ(ports->admin_port, 40322);
  std::ifstream in(path("node.ports"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, R"({"port": 40321, "admin-port": 40322})");
  EXPECT_FALSE(std::filesystem::exists(path("node.ports.tmp"))) << "the temporary file is renamed, not left behind";

  ASSERT_TRUE(write_ports_file(path("node.ports"), {7, 8}));
  EXPECT_EQ(read_ports_file(path("node.ports"))->port, 7) << "a restart's ports replace the old ones";
}

TEST_F(PortsFileTest, MissingForeignOrUnwritableFilesAreNotPorts) {
  EXPECT_FALSE(read_ports_file(path("missing.ports")));
  std::ofstream(path("half.ports")) << R"({"port": 40321)";
  EXPECT_FALSE(read_ports_file(path("half.ports"))) << "no admin-port";
  std::ofstream(path("zero.ports")) << R"({"port": 0, "admin-port": 5})";
  EXPECT_FALSE(read_ports_file(path("zero.ports"))) << "0 is not a bound port";
  EXPECT_FALSE(write_ports_file(path("no-such-dir/x.ports"), {1, 2}));
}

}  // namespace
}  // namespace ix::config
