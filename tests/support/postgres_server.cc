#include "tests/support/postgres_server.h"

#include "node/store/libpq_api.h"
#include "tests/support/test_certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace ix::test {

namespace {

namespace fs = std::filesystem;

// The newest PostgreSQL under /usr/lib/postgresql (Debian's layout), or IX_POSTGRES_BIN.
Result<std::string> find_binaries() {
  if (const char* bin = std::getenv("IX_POSTGRES_BIN")) return std::string(bin);
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  if (best.empty()) return Error{0, "no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/install-deps.sh"};
  return best;
}

// When running as root: the unprivileged user the server runs as.
struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<RunAs> run_as() {
  RunAs r;
  if (::geteuid() != 0) return r;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) return Error{0, "running as root and there is no \"postgres\" user to run PostgreSQL as (install the postgresql package)"};
  r.drop = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

// In a forked child: become the server's user, then (attached) die with the parent. The
// parent-death signal is cleared by a change of user, so it is set after.
void become(const RunAs& as, bool die_with_parent) {
  if (as.drop) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) ::_exit(126);
  }
  if (die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// Runs a program to completion with its output appended to `log`; its exit status.
int run(const RunAs& as, std::vector<std::string> argv, const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    become(as, true);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tail(const std::string& text, size_t n = 1500) { return text.size() > n ? text.substr(text.size() - n) : text; }

bool alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start(PostgresServerOptions options) {
  if (auto loaded = node::load_libpq(); !loaded) return loaded.error();
  auto bin = find_binaries();
  if (!bin) return bin.error();
  auto as = run_as();
  if (!as) return as.error();
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->options_ = options;
  server->owned_ = !options.detached;
  server->bin_ = *bin;
  std::string templ = (fs::temp_directory_path() / "ix-postgres-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return Error{0, "cannot create a folder for PostgreSQL under " + fs::temp_directory_path().string()};
  server->dir_ = templ;
  if (as->drop && ::chown(templ.c_str(), as->uid, as->gid) != 0) return Error{0, "cannot hand " + templ + " to the postgres user"};
  const std::string log = server->dir_ + "/initdb.log";
  if (run(*as, {server->bin_ + "/initdb", "-D", server->dir_ + "/data", "-U", "ix", "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync", "--no-instructions"},
          log) != 0) {
    return Error{0, "initdb failed: " + tail(read_file(log))};
  }
  // TLS for the tests that ask for it (sslmode=verify-full against ca.pem); the others connect
  // with sslmode=disable.
  const TestCertificates& certs = test_certificates();
  const std::string crt = server->dir_ + "/data/server.crt", key = server->dir_ + "/data/server.key";
  std::ofstream(crt) << certs.server.cert_pem;
  std::ofstream(key) << certs.server.key_pem;
  std::ofstream(server->ca_file()) << certs.ca_pem;
  ::chmod(key.c_str(), 0600);
  if (as->drop && (::chown(crt.c_str(), as->uid, as->gid) != 0 || ::chown(key.c_str(), as->uid, as->gid) != 0)) {
    return Error{0, "cannot hand the server's key to the postgres user"};
  }
  for (int attempt = 0;; ++attempt) {
    server->port_ = free_port();
    Status launched = server->launch();
    if (launched) break;
    // Another process may have taken the port between our probe and the server's bind.
    if (attempt == 3) return launched.error();
  }
  if (options.detached) {
    std::ofstream(server->dir_ + "/conninfo") << server->conninfo("postgres") << "\n";
    std::ofstream(server->dir_ + "/port") << server->port_ << "\n";
  }
  return server;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::attach(const std::string& dir) {
  if (auto loaded = node::load_libpq(); !loaded) return loaded.error();
  std::ifstream port_file(dir + "/port");
  int port = 0;
  if (!(port_file >> port) || port <= 0) {
    return Error{0, "no PostgreSQL test server in " + dir + " (the CTest fixture PostgresServer.Start did not run or failed)"};
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->dir_ = dir;
  server->port_ = port;
  server->owned_ = false;
  if (Status s = server->wait_ready(); !s) return s.error();
  return server;
}

Status PostgresServer::stop_detached(const std::string& dir) {
  std::ifstream pid_file(dir + "/data/postmaster.pid");
  int pid = 0;
  if (pid_file >> pid && pid > 0) {
    ::kill(pid, SIGQUIT);  // immediate shutdown: the data is thrown away anyway
    for (int i = 0; i < 1000 && alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (alive(pid)) ::kill(pid, SIGKILL);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Error{0, "cannot remove " + dir + ": " + ec.message()};
  return {};
}

PostgresServer::~PostgresServer() {
  if (!owned_) return;
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status PostgresServer::launch() {
  auto as = run_as();
  if (!as) return as.error();
  const std::string log = dir_ + "/postgres.log";
  std::vector<std::string> argv = {bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_),
                                   "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                                   "-c", "max_connections=300", "-c", "shared_buffers=32MB",
                                   "-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"};
  if (!options_.durable) {
    for (const char* setting : {"fsync=off", "full_page_writes=off"}) {
      argv.push_back("-c");
      argv.push_back(setting);
    }
  }
  const size_t log_offset = fs::exists(log) ? fs::file_size(log) : 0;
  pid_t pid = ::fork();
  if (pid < 0) return Error{0, "fork failed"};
  if (pid == 0) {
    if (options_.detached) ::setsid();
    become(*as, !options_.detached);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  if (Status s = wait_ready(); !s) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return Error{0, s.error().text + ": " + tail(read_file(log).substr(std::min(log_offset, read_file(log).size())))};
  }
  if (options_.detached) pid_ = -1;  // not ours to reap; stop_detached() finds it by its pid file
  return {};
}

Status PostgresServer::wait_ready() {
  const std::string info = conninfo("postgres") + " connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (node::pq().PQping(info.c_str()) == PQPING_OK) return {};
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return Error{0, "postgres exited at start-up"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error{0, "PostgreSQL on port " + std::to_string(port_) + " did not accept connections within 60 s"};
}

std::string PostgresServer::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=ix dbname=" + database + " sslmode=disable gssencmode=disable";
}

Result<std::string> PostgresServer::create_database() {
  const std::string name = "ix_test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  if (Status s = execute("CREATE DATABASE " + name + " TEMPLATE template0"); !s) return s.error();
  return conninfo(name);
}

Status PostgresServer::execute(const std::string& sql, const std::string& database) const {
  PGconn* c = node::pq().PQconnectdb(conninfo(database).c_str());
  if (node::pq().PQstatus(c) != CONNECTION_OK) {
    std::string why = node::pq().PQerrorMessage(c);
    node::pq().PQfinish(c);
    return Error{0, "cannot connect to the test server: " + why};
  }
  PGresult* r = node::pq().PQexec(c, sql.c_str());
  const ExecStatusType status = node::pq().PQresultStatus(r);
  std::string why = node::pq().PQresultErrorMessage(r);
  node::pq().PQclear(r);
  node::pq().PQfinish(c);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error{0, sql + ": " + why};
  return {};
}

Result<std::string> PostgresServer::query_value(const std::string& sql, const std::string& database) const {
  PGconn* c = node::pq().PQconnectdb(conninfo(database).c_str());
  if (node::pq().PQstatus(c) != CONNECTION_OK) {
    std::string why = node::pq().PQerrorMessage(c);
    node::pq().PQfinish(c);
    return Error{0, "cannot connect to the test server: " + why};
  }
  PGresult* r = node::pq().PQexec(c, sql.c_str());
  Result<std::string> out = Error{0, sql + ": " + std::string(node::pq().PQresultErrorMessage(r))};
  if (node::pq().PQresultStatus(r) == PGRES_TUPLES_OK && node::pq().PQntuples(r) == 1) out = std::string(node::pq().PQgetvalue(r, 0, 0));
  node::pq().PQclear(r);
  node::pq().PQfinish(c);
  return out;
}

Status PostgresServer::stop() {
  if (pid_ <= 0) return Error{0, "this process did not start the server"};
  ::kill(pid_, SIGINT);  // fast shutdown
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return {};
}

Status PostgresServer::restart() {
  if (pid_ > 0) {
    if (Status s = stop(); !s) return s;
  }
  return launch();
}

PostgresEnvironment& PostgresEnvironment::get() {
  static PostgresEnvironment* environment = [] {
    auto* e = new PostgresEnvironment();
    ::testing::AddGlobalTestEnvironment(e);  // gtest owns it and runs TearDown at the end
    return e;
  }();
  return *environment;
}

PostgresServer* PostgresEnvironment::server() {
  if (server_) return server_.get();
  if (!failure_.empty()) {
    ADD_FAILURE() << failure_;
    return nullptr;
  }
  const char* shared = std::getenv("IX_TEST_POSTGRES_DIR");
  auto server = shared != nullptr && shared[0] != '\0' ? PostgresServer::attach(shared) : PostgresServer::start();
  if (!server) {
    failure_ = "no PostgreSQL server for the tests: " + server.error().text;
    ADD_FAILURE() << failure_;
    return nullptr;
  }
  server_ = std::move(server.value());
  return server_.get();
}

std::string PostgresEnvironment::fresh_database() {
  PostgresServer* s = server();
  if (s == nullptr) return "";
  auto database = s->create_database();
  if (!database) {
    ADD_FAILURE() << database.error().text;
    return "";
  }
  return *database;
}

void PostgresEnvironment::TearDown() { server_.reset(); }

}  // namespace ix::test
