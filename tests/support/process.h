// Process: a real binary started by a test (fork/exec), its output kept in a log file, stopped
// with a signal. The destructor kills whatever is still running. With start_with_input() the
// test also holds the write end of the process's stdin and types into it when it chooses.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ix::test {

class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path) : argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  ~Process() {
    kill(SIGKILL);
    close_input();
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool start() { return start_process(-1); }

  // Starts with stdin a pipe from the test: write_input() sends lines, close_input() is the end
  // of input.
  bool start_with_input() {
    // A process that ended early must fail the write, not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    input_fd_ = fds[1];
    const bool started = start_process(fds[0]);
    ::close(fds[0]);
    return started;
  }
  bool write_input(const std::string& text) {
    size_t written = 0;
    while (input_fd_ >= 0 && written < text.size()) {
      const ssize_t n = ::write(input_fd_, text.data() + written, text.size() - written);
      if (n <= 0) return false;
      written += static_cast<size_t>(n);
    }
    return input_fd_ >= 0;
  }
  void close_input() {
    if (input_fd_ >= 0) ::close(input_fd_);
    input_fd_ = -1;
  }

 private:
  bool start_process(int stdin_fd) {
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      // Dies with the test, even when the test itself is killed.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
      int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (std::string& a : argv_) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return true;
  }

 public:
  // Sends a signal and waits for the process to end; returns its exit status (or -signal).
  int kill(int signal, std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, signal);
    return wait_for_exit(wait);
  }

  // Sends a signal without waiting (SIGHUP, SIGSTOP, SIGCONT).
  void signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
  }

  int wait_for_exit(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (pid_ > 0) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_status_;
  }

  // The process ID while it runs (-1 before start and after it ended): for /proc readings.
  pid_t pid() const { return pid_; }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return false;
    }
    return true;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  int input_fd_ = -1;  // write end of the process's stdin, with start_with_input()
};

}  // namespace ix::test
