#include "protocol/log.h"

#include <pthread.h>
#include <signal.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace ix {

namespace {

std::function<std::string()> g_fields;

// %& in the pattern: " " + the fields, or nothing.
class FieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (!g_fields) return;
    const std::string fields = g_fields();
    if (fields.empty()) return;
    dest.push_back(' ');
    dest.append(fields.data(), fields.data() + fields.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<FieldsFlag>(); }
};

// %L in the pattern: the level as --log-level spells it (warn, not warning).
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    const std::string_view name = kNames[static_cast<size_t>(msg.level)];
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

// Appends to a file that can be reopened by name (logrotate renames it, then signals).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::string path) : path_(std::move(path)) {}
  ~ReopenableFileSink() override {
    if (file_) std::fclose(file_);
  }
  bool open(std::string& error) {
    std::lock_guard lock(mutex_);
    return open_locked(error);
  }
  bool reopen(std::string& error) {
    std::lock_guard lock(mutex_);
    if (file_) std::fclose(file_);
    file_ = nullptr;
    return open_locked(error);
  }
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!file_) return;
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::fwrite(line.data(), 1, line.size(), file_);
  }
  void flush_() override {
    if (file_) std::fflush(file_);
  }

 private:
  bool open_locked(std::string& error) {
    file_ = std::fopen(path_.c_str(), "ae");
    if (!file_) error = "cannot open the log file " + path_ + ": " + std::strerror(errno);
    return file_ != nullptr;
  }

  const std::string path_;
  std::FILE* file_ = nullptr;
};

// Waits for SIGUSR1 (blocked in every thread, which inherit the mask from main) and reopens.
void watch_reopen_signal(std::shared_ptr<ReopenableFileSink> sink) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([sink = std::move(sink), set] {
    for (;;) {
      int signal = 0;
      if (sigwait(&set, &signal) != 0) continue;
      std::string error;
      if (sink->reopen(error)) spdlog::info("event=log_reopened file={}", quote(sink->path()));
      else spdlog::error("event=log_reopen_failed error={}", quote(error));
    }
  }).detach();
}

}  // namespace

bool init_logging(const std::string& process_name, const std::string& level, const std::string& file, std::string* error) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  std::shared_ptr<ReopenableFileSink> file_sink;
  if (!file.empty()) {
    file_sink = std::make_shared<ReopenableFileSink>(file);
    std::string why;
    if (!file_sink->open(why)) {
      if (error) *error = why;
      return false;
    }
    sinks.push_back(file_sink);
  }
  auto logger = std::make_shared<spdlog::logger>(process_name, sinks.begin(), sinks.end());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<FieldsFlag>('&').add_flag<LevelFlag>('L').set_pattern(
      "ts=%Y-%m-%dT%H:%M:%S.%e%z level=%L proc=%n%& %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  if (file_sink) watch_reopen_signal(file_sink);
  return true;
}

void set_log_fields(std::function<std::string()> fields) { g_fields = std::move(fields); }

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace ix
