// postgres_test_server: the CTest fixture that gives the whole suite one PostgreSQL server.
//   postgres_test_server start DIR   initdb + a detached server; DIR is a symlink to its folder,
//                                    whose `conninfo` and `port` files tell the tests where it is
//   postgres_test_server stop DIR    stops it and removes its folder and DIR
// A server left behind by an interrupted run is stopped by the next start.
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/support/postgres_server.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::fprintf(stderr, "usage: postgres_test_server start|stop DIR\n");
    return 2;
  }
  const std::string link = argv[2];
  std::error_code ec;
  if (fs::is_symlink(link, ec)) {
    const std::string target = fs::read_symlink(link, ec).string();
    if (ix::Status s = ix::test::PostgresServer::stop_detached(target); !s) std::fprintf(stderr, "%s\n", s.error().text.c_str());
    fs::remove(link, ec);
  }
  if (std::string(argv[1]) == "stop") return 0;
  auto server = ix::test::PostgresServer::start({.durable = false, .detached = true});
  if (!server) {
    std::fprintf(stderr, "postgres_test_server: %s\n", server.error().text.c_str());
    return 1;
  }
  fs::create_directories(fs::path(link).parent_path(), ec);
  fs::create_directory_symlink((*server)->dir(), link, ec);
  if (ec) {
    std::fprintf(stderr, "postgres_test_server: cannot link %s: %s\n", link.c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("PostgreSQL for the tests on port %d in %s\n", (*server)->port(), (*server)->dir().c_str());
  return 0;
}
