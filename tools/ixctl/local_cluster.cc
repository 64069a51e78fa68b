#include "tools/ixctl/local_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include <openssl/rand.h>

#include "cluster-config/loader.h"
#include "cluster-config/proxy_secret.h"
#include "protocol/http/http_get.h"

namespace ix::tools {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_restart_requested = 0;

constexpr std::chrono::milliseconds kFirstBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kStableAfter{60};  // a process that ran this long starts over at kFirstBackoff

// "pair-1 primary" → "pair-1-primary": the name in file names and on the command line.
std::string file_name(const std::string& name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), ' ', '-');
  return out;
}

// Running, and not merely a zombie waiting for its parent to collect it (a launcher started by
// a script that has not waited for it yet has done its work).
bool alive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t end_of_name = line.rfind(')');
  return end_of_name != std::string::npos && end_of_name + 2 < line.size() && line[end_of_name + 2] != 'Z';
}

// 32 random bytes as hex: a proxy secret for a local cluster.
std::string random_secret() {
  uint8_t bytes[32];
  RAND_bytes(bytes, sizeof bytes);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out += {hex[b >> 4], hex[b & 15]};
  return out;
}

// A local cluster gets its [proxy-auth] secret without anyone making one: a secret-file that
// does not exist yet is created (mode 0600, kept for the next run), a secret-env variable that
// is not set is set for this launcher, whose processes inherit it (restarts included).
Status provide_proxy_secret(const config::ClusterConfig& config) {
  if (!config.proxy_auth) return {};
  const config::ProxyAuth& auth = *config.proxy_auth;
  if (!auth.secret_env.empty() && std::getenv(auth.secret_env.c_str()) == nullptr) {
    ::setenv(auth.secret_env.c_str(), random_secret().c_str(), 0);
    std::cout << "proxy secret: generated for this run in $" << auth.secret_env << "\n";
  }
  if (!auth.secret_file.empty() && !fs::exists(auth.secret_file)) {
    std::error_code ec;
    fs::create_directories(fs::path(auth.secret_file).parent_path(), ec);
    const int fd = ::open(auth.secret_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Error{0, "cannot create the proxy secret file " + auth.secret_file + ": " + std::strerror(errno)};
    const std::string secret = random_secret() + "\n";
    const bool written = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
    ::close(fd);
    if (!written) return Error{0, "cannot write the proxy secret file " + auth.secret_file};
    std::cout << "proxy secret: generated in " << auth.secret_file << "\n";
  }
  // Whatever was there already must be usable, or every proxy would be refused.
  if (Result<std::string> secret = config::load_proxy_secret(auth); !secret) return secret.error();
  return {};
}

// ixnode / ixproxy: --bin-dir, then next to ixctl (installed side by side), then the build
// tree's layout (build/tools/ixctl → build/node/ixnode), then PATH.
Result<std::string> find_binary(const std::string& name, const fs::path& bin_dir) {
  std::vector<fs::path> candidates;
  if (!bin_dir.empty()) {
    candidates.push_back(bin_dir / name);
  } else {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec).parent_path();
    candidates.push_back(self / name);
    candidates.push_back(self.parent_path() / (name == "ixnode" ? "node" : "proxy") / name);
    if (const char* path = std::getenv("PATH")) {
      std::istringstream dirs(path);
      for (std::string dir; std::getline(dirs, dir, ':');) {
        if (!dir.empty()) candidates.push_back(fs::path(dir) / name);
      }
    }
  }
  std::string looked;
  for (const fs::path& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return fs::absolute(c).string();
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  return Error{0, "cannot find " + name + " (looked at " + looked + "); build it first or pass --bin-dir"};
}

// Whether something already listens on host:port (bind fails).
bool port_in_use(const std::string& host, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &address.sin_addr) != 1) {
    address.sin_addr.s_addr = htonl(INADDR_ANY);
  }
  const bool in_use = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0;
  ::close(fd);
  return in_use;
}

pid_t spawn(const LocalProcess& p) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The processes die with the launcher, even when it is killed outright.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  ::setpgid(0, 0);  // Ctrl-C in the terminal reaches the launcher only; it stops them in order
  const int fd = ::open(p.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  const int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  std::vector<char*> args;
  for (const std::string& a : p.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::fprintf(stderr, "cannot start %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

std::string last_lines(const fs::path& file, size_t n) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += "    " + lines[i] + "\n";
  return out;
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

}  // namespace

Status LocalCluster::plan(const config::ClusterConfig& config) {
  Result<std::string> ixnode = find_binary("ixnode", options_.bin_dir);
  if (!ixnode) return ixnode.error();
  Result<std::string> ixproxy = find_binary("ixproxy", options_.bin_dir);
  if (!ixproxy) return ixproxy.error();
  const std::string config_path = fs::absolute(options_.config_file).string();
  const fs::path logs = fs::absolute(options_.work_dir / "logs");
  for (const config::NodePair& pair : config.node_pairs) {
    for (const auto& [endpoint, role] : {std::pair{&pair.primary, "primary"}, std::pair{&pair.backup, "backup"}}) {
      LocalProcess p;
      p.name = pair.id + " " + role;
      p.argv = {*ixnode, "--config", config_path, "--node", pair.id, "--role", role};
      p.host = endpoint->host, p.port = endpoint->port, p.admin_port = endpoint->admin_port;
      p.is_backup = std::string(role) == "backup";
      p.log = logs / (pair.id + "-" + role + ".log");
      processes_.push_back(std::move(p));
    }
    data_files_.push_back(pair.storage.sqlite_path.empty() ? "PostgreSQL: " + pair.storage.postgresql
                                                           : fs::absolute(pair.storage.sqlite_path).lexically_normal().string());
  }
  for (const config::Proxy& proxy : config.proxies) {
    LocalProcess p;
    p.name = proxy.id;
    p.argv = {*ixproxy, "--config", config_path, "--proxy", proxy.id};
    p.host = proxy.endpoint.host, p.port = proxy.endpoint.port, p.admin_port = proxy.endpoint.admin_port;
    p.is_proxy = true;
    p.log = logs / (proxy.id + ".log");
    processes_.push_back(std::move(p));
  }
  for (const LocalProcess& p : processes_) {
    for (uint16_t port : {p.port, p.admin_port}) {
      // Port 0 (chosen by the OS at start) is for a process started on its own with --ports-file:
      // here every process reads the one file, and the proxies would not find the nodes.
      if (port == 0) {
        return Error{0, p.name + " has port 0 in the configuration; cluster up needs every port written out"};
      }
      if (port_in_use(p.host, port)) {
        return Error{0, "port " + std::to_string(port) + " (" + p.name + ") is already in use on " + p.host +
                            "; stop whatever holds it or change the configuration"};
      }
    }
  }
  return {};
}

Status LocalCluster::start() {
  const fs::path state = options_.work_dir / "cluster.json";
  if (std::ifstream in(state); in) {
    nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
    if (!running.is_discarded() && alive(running.value("launcher_pid", -1))) {
      return Error{0, "a cluster is already running from " + options_.work_dir.string() + " (launcher pid " +
                          std::to_string(running.value("launcher_pid", -1)) + "); stop it with: ixctl cluster down --dir " +
                          options_.work_dir.string()};
    }
  }
  config::LoadResult loaded = config::load_config_file(options_.config_file);
  if (!loaded.ok()) return Error{0, options_.config_file + " is not a valid configuration:\n" + loaded.error_text()};
  if (Status s = plan(*loaded.config); !s) return s;
  if (Status s = provide_proxy_secret(*loaded.config); !s) return s;
  std::error_code ec;
  fs::create_directories(options_.work_dir / "logs", ec);
  if (ec) return Error{0, "cannot create " + (options_.work_dir / "logs").string() + ": " + ec.message()};

  // Primaries first, so that they take their pairs' leases; then backups; then proxies.
  for (int stage = 0; stage < 3; ++stage) {
    for (LocalProcess& p : processes_) {
      const int p_stage = p.is_proxy ? 2 : p.is_backup ? 1 : 0;
      if (p_stage != stage) continue;
      std::ofstream(p.log, std::ios::app) << "---- started by ixctl cluster up\n";
      p.pid = spawn(p);
      p.started_at = Clock::now();
      if (p.pid < 0) {
        stop();
        return Error{0, "cannot start " + p.name + ": " + std::strerror(errno)};
      }
      write_state();
    }
    for (const LocalProcess& p : processes_) {
      const int p_stage = p.is_proxy ? 2 : p.is_backup ? 1 : 0;
      if (p_stage != stage) continue;
      if (Status s = wait_ready(p); !s) {
        stop();
        return s;
      }
    }
  }
  write_state();
  return {};
}

Status LocalCluster::wait_ready(const LocalProcess& p) {
  // A backup is healthy but not ready (the other node holds the lease); the rest must be ready.
  const std::string path = p.is_backup ? "/healthz" : "/readyz";
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.ready_timeout_ms);
  std::string last;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
      return Error{0, p.name + " " + exit_text(status) + " while starting; the end of " + p.log.string() + ":\n" +
                          last_lines(p.log, 10)};
    }
    Result<http::HttpReply> reply = http::http_get(p.host, p.admin_port, path, 1000);
    if (reply && reply->status == 200) return {};
    last = reply ? reply->body : reply.error().text;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error{0, p.name + " was not ready after " + std::to_string(options_.ready_timeout_ms / 1000) + " s (" + last +
                      "); the end of " + p.log.string() + ":\n" + last_lines(p.log, 10)};
}

void LocalCluster::run() {
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGUSR1, [](int) { g_restart_requested = 1; });
  handle_restart_requests();  // any left from before the handler existed
  while (!g_stop) {
    const Clock::time_point now = Clock::now();
    for (LocalProcess& p : processes_) {
      int status = 0;
      if (p.pid > 0 && ::waitpid(p.pid, &status, WNOHANG) == p.pid) {
        std::ostringstream line;
        line << "ixctl: " << p.name << " (pid " << p.pid << ") " << exit_text(status) << "; its log: " << p.log.string();
        p.pid = -1;
        if (options_.restart) {
          if (now - p.started_at >= kStableAfter) p.backoff = std::chrono::milliseconds(0);
          p.backoff = p.backoff.count() == 0 ? kFirstBackoff : std::min(p.backoff * 2, kMaxBackoff);
          p.restart_pending = true;
          p.restart_at = now + p.backoff;
          line << "; restarting it in " << p.backoff.count() / 1000.0 << " s";
        } else {
          line << "; not restarting it (--no-restart)";
        }
        // cluster.json is written down before the line that reports it, so whoever reads the
        // line finds the state it describes.
        write_state();
        std::cout << line.str() << std::endl;
      }
      if (p.restart_pending && now >= p.restart_at) {
        char backoff[32];
        std::snprintf(backoff, sizeof backoff, "%.0f", p.backoff.count() / 1000.0);
        respawn(p, std::string("after a back-off of ") + backoff + " s");
      }
    }
    if (g_restart_requested) {
      g_restart_requested = 0;
      handle_restart_requests();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cout << "ixctl: stopping the cluster" << std::endl;
  stop();
  std::cout << "ixctl: stopped" << std::endl;
}

void LocalCluster::respawn(LocalProcess& p, const std::string& why) {
  p.restart_pending = false;
  std::ofstream(p.log, std::ios::app) << "---- restarted by ixctl cluster up (" << why << ")\n";
  p.pid = spawn(p);
  p.started_at = Clock::now();
  ++p.restarts;
  std::cout << "ixctl: restarted " << p.name << " (pid " << p.pid << ", restart " << p.restarts << ", " << why << ")" << std::endl;
  write_state();
}

void LocalCluster::handle_restart_requests() {
  const fs::path requests = options_.work_dir / "restart-requests";
  std::error_code ec;
  if (!fs::is_directory(requests, ec)) return;
  for (const fs::directory_entry& entry : fs::directory_iterator(requests, ec)) {
    const std::string wanted = entry.path().filename().string();
    fs::remove(entry.path(), ec);
    for (LocalProcess& p : processes_) {
      if (file_name(p.name) != wanted) continue;
      if (p.pid > 0) {
        ::kill(p.pid, SIGTERM);
        const auto deadline = Clock::now() + std::chrono::seconds(10);
        while (::waitpid(p.pid, nullptr, WNOHANG) == 0) {
          if (Clock::now() > deadline) {
            ::kill(p.pid, SIGKILL);
            ::waitpid(p.pid, nullptr, 0);
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        p.pid = -1;
      }
      p.backoff = std::chrono::milliseconds(0);
      respawn(p, "asked by ixctl cluster restart");
    }
  }
}

void LocalCluster::stop() {
  // Proxies first (they log their agents out on the nodes), then backups, then primaries.
  for (int stage = 2; stage >= 0; --stage) {
    std::vector<LocalProcess*> stopping;
    for (LocalProcess& p : processes_) {
      const int p_stage = p.is_proxy ? 2 : p.is_backup ? 1 : 0;
      if (p_stage == stage && p.pid > 0) {
        ::kill(p.pid, SIGTERM);
        stopping.push_back(&p);
      }
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (LocalProcess* p : stopping) {
      while (::waitpid(p->pid, nullptr, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          std::cout << "ixctl: " << p->name << " did not stop within 10 s; killing it" << std::endl;
          ::kill(p->pid, SIGKILL);
          ::waitpid(p->pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      p->pid = -1;
    }
  }
  std::error_code ec;
  if (!processes_.empty()) fs::remove(options_.work_dir / "cluster.json", ec);
}

void LocalCluster::write_state() const {
  nlohmann::json processes = nlohmann::json::array();
  for (const LocalProcess& p : processes_) {
    processes.push_back({{"name", p.name}, {"pid", p.pid}, {"host", p.host}, {"port", p.port},
                         {"admin_port", p.admin_port}, {"log", p.log.string()}, {"proxy", p.is_proxy},
                         {"restarts", p.restarts}});
  }
  const fs::path path = options_.work_dir / "cluster.json";
  std::ofstream(path.string() + ".tmp")
      << nlohmann::json{{"launcher_pid", ::getpid()}, {"config", fs::absolute(options_.config_file).string()},
                        {"processes", processes}}.dump(2);
  std::error_code ec;
  fs::rename(path.string() + ".tmp", path, ec);
}

std::string LocalCluster::summary() const {
  std::ostringstream out;
  out << "The cluster is up (" << options_.config_file << "):\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-16s %-8s %-22s %-28s %s\n", "PROCESS", "PID", "CLIENTS", "ADMIN", "LOG");
  out << line;
  for (const LocalProcess& p : processes_) {
    const std::string clients = p.host + ":" + std::to_string(p.port);
    const std::string admin = "http://" + p.host + ":" + std::to_string(p.admin_port) + "/";
    std::snprintf(line, sizeof line, "  %-16s %-8d %-22s %-28s %s\n", p.name.c_str(), p.pid, clients.c_str(), admin.c_str(),
                  p.log.string().c_str());
    out << line;
  }
  out << "\n  data:";
  for (const std::string& d : data_files_) out << "\n    " << d;
  for (const LocalProcess& p : processes_) {
    if (!p.is_proxy) continue;
    out << "\n\nStatus page: http://" << p.host << ":" << p.admin_port << "/";
    break;
  }
  out << "\nStop with Ctrl-C, or from another terminal: ixctl cluster down --dir " << options_.work_dir.string() << "\n";
  return out.str();
}

Status stop_local_cluster(const fs::path& work_dir, uint64_t timeout_ms) {
  const fs::path state = work_dir / "cluster.json";
  std::ifstream in(state);
  if (!in) return Error{0, "no cluster is running from " + work_dir.string() + " (no " + state.string() + ")"};
  nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
  if (running.is_discarded()) return Error{0, state.string() + " is not readable JSON"};
  const pid_t launcher = running.value("launcher_pid", -1);
  std::vector<pid_t> pids;
  for (const auto& p : running.value("processes", nlohmann::json::array())) pids.push_back(p.value("pid", -1));
  if (alive(launcher)) ::kill(launcher, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto any_alive = [&] {
    if (alive(launcher)) return true;
    return std::any_of(pids.begin(), pids.end(), [](pid_t pid) { return alive(pid); });
  };
  while (any_alive() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (any_alive()) {
    // The launcher is gone or stuck: stop what it left behind.
    for (pid_t pid : pids) {
      if (alive(pid)) ::kill(pid, SIGKILL);
    }
    if (alive(launcher)) ::kill(launcher, SIGKILL);
  }
  std::error_code ec;
  fs::remove(state, ec);
  fs::remove_all(work_dir / "restart-requests", ec);
  return {};
}

Result<pid_t> restart_local_process(const fs::path& work_dir, const std::string& name, uint64_t timeout_ms) {
  const fs::path state = work_dir / "cluster.json";
  auto read_state = [&]() -> nlohmann::json {
    std::ifstream in(state);
    nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
    return in && !running.is_discarded() ? running : nlohmann::json();
  };
  nlohmann::json running = read_state();
  if (running.is_null()) return Error{0, "no cluster is running from " + work_dir.string() + " (no readable " + state.string() + ")"};
  const pid_t launcher = running.value("launcher_pid", -1);
  if (!alive(launcher)) return Error{0, "the launcher of " + work_dir.string() + " (pid " + std::to_string(launcher) + ") is not running"};
  std::string names;
  nlohmann::json process;
  for (const auto& p : running.value("processes", nlohmann::json::array())) {
    const std::string n = p.value("name", "");
    names += (names.empty() ? "" : ", ") + file_name(n);
    if (n == name || file_name(n) == name) process = p;
  }
  if (process.is_null()) return Error{0, "no process \"" + name + "\" in the cluster of " + work_dir.string() + "; its processes: " + names};
  const std::string key = file_name(process.value("name", ""));
  const pid_t old_pid = process.value("pid", -1);
  std::error_code ec;
  fs::create_directories(work_dir / "restart-requests", ec);
  std::ofstream(work_dir / "restart-requests" / key) << "asked at " << ::time(nullptr) << "\n";
  ::kill(launcher, SIGUSR1);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    for (const auto& p : read_state().value("processes", nlohmann::json::array())) {
      if (file_name(p.value("name", "")) != key) continue;
      const pid_t pid = p.value("pid", -1);
      if (pid <= 0 || pid == old_pid || !alive(pid)) continue;
      Result<http::HttpReply> health = http::http_get(p.value("host", "127.0.0.1"), p.value("admin_port", uint16_t{0}), "/healthz", 1000);
      if (health && health->status == 200) return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error{0, process.value("name", "") + " did not answer /healthz within " + std::to_string(timeout_ms / 1000) +
                      " s of its restart; its log: " + process.value("log", "")};
}

}  // namespace ix::tools
