#include "protocol/http/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/build_info.h"

namespace ix::metrics {

namespace {

constexpr const char* kReloadSuccessHelp = "1 when the last configuration load or reload (SIGHUP) was applied, 0 when it was refused";
constexpr const char* kReloadTimestampHelp = "When the last configuration load or reload was attempted, seconds since the Unix epoch";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The fields of /proc/self/stat after the command name (which may hold spaces and parentheses),
// so that fields[0] is field 3 (state) of proc(5).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double stat_field(const std::vector<std::string>& fields, size_t proc5_index) {
  size_t i = proc5_index - 3;
  return i < fields.size() ? std::stod(fields[i]) : 0.0;
}

double statm_pages(size_t index) {
  std::ifstream in("/proc/self/statm");
  double value = 0;
  for (size_t i = 0; i <= index && (in >> value); ++i) {
  }
  return value * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n - 1;  // the iterator's own descriptor
}

}  // namespace

void register_process_metrics(Registry& registry) {
  registry.gauge("ix_build_info", "The build this process runs: version and git commit (always 1)",
                 {{"version", std::string(build_version())}, {"commit", std::string(build_commit())}})
      .set(1);
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  registry.counter_function("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {}, [ticks] {
    std::vector<std::string> fields = stat_fields();
    return (stat_field(fields, 14) + stat_field(fields, 15)) / ticks;
  });
  registry.gauge_function("process_resident_memory_bytes", "Resident memory size in bytes.", {}, [] { return statm_pages(1); });
  registry.gauge_function("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}, [] { return statm_pages(0); });
  registry.gauge_function("process_open_fds", "Number of open file descriptors.", {}, open_fds);
  registry.gauge_function("process_max_fds", "Maximum number of open file descriptors.", {}, [] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1.0;
    return static_cast<double>(limit.rlim_cur);
  });
  // Fixed for the life of the process: computed once.
  const double start = boot_time_seconds() + stat_field(stat_fields(), 22) / ticks;
  registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.").set(start);
  // The configuration was loaded at start-up, or the process would not be running.
  registry.gauge("ix_config_reload_success", kReloadSuccessHelp).set(1);
  registry.gauge("ix_config_reload_timestamp_seconds", kReloadTimestampHelp).set(now_seconds());
}

void record_config_reload(Registry& registry, bool applied) {
  registry.gauge("ix_config_reload_success", kReloadSuccessHelp).set(applied ? 1 : 0);
  registry.gauge("ix_config_reload_timestamp_seconds", kReloadTimestampHelp).set(now_seconds());
}

}  // namespace ix::metrics
