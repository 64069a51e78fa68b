// ProcessSignals: how every ixcluster server process answers signals, on its main loop —
// SIGHUP reloads the configuration, SIGTERM and SIGINT stop the process gracefully, SIGPIPE is
// ignored (libuv writes with write(2): a peer that resets a connection while a reply or a post is
// being written must fail that connection, not end the process). The handles
// are freed in their close callbacks; close() is idempotent and lets the loop end.
// Single-threaded, on the loop's thread.
#pragma once

#include <uv.h>

#include <csignal>

#include <functional>
#include <vector>

namespace ix::net {

class ProcessSignals {
 public:
  using ReloadCallback = std::function<void()>;
  using StopCallback = std::function<void(const char* signal_name)>;

  ProcessSignals(uv_loop_t* loop, ReloadCallback on_reload, StopCallback on_stop);
  ~ProcessSignals() { close(); }
  ProcessSignals(const ProcessSignals&) = delete;
  ProcessSignals& operator=(const ProcessSignals&) = delete;

  void close();

 private:
  struct Handle {
    uv_signal_t signal;
    ProcessSignals* owner;
  };
  void on_signal(int signum);

  ReloadCallback on_reload_;
  StopCallback on_stop_;
  std::vector<Handle*> handles_;
};

inline ProcessSignals::ProcessSignals(uv_loop_t* loop, ReloadCallback on_reload, StopCallback on_stop)
    : on_reload_(std::move(on_reload)), on_stop_(std::move(on_stop)) {
  ::signal(SIGPIPE, SIG_IGN);
  for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
    auto* h = new Handle{{}, this};
    uv_signal_init(loop, &h->signal);
    h->signal.data = h;
    uv_signal_start(&h->signal, [](uv_signal_t* s, int received) { static_cast<Handle*>(s->data)->owner->on_signal(received); },
                    signum);
    handles_.push_back(h);
  }
}

inline void ProcessSignals::close() {
  for (Handle* h : handles_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&h->signal), [](uv_handle_t* s) { delete static_cast<Handle*>(s->data); });
  }
  handles_.clear();
}

inline void ProcessSignals::on_signal(int signum) {
  if (signum == SIGHUP) {
    if (on_reload_) on_reload_();
    return;
  }
  if (on_stop_) on_stop_(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

}  // namespace ix::net
