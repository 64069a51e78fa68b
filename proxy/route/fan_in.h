// FanIn: the one gather of the proxy's scatter requests. A request that goes to several places
// (pairs, snapshot parts) makes one FanIn with a slot per destination; each answer is put in its
// slot, and when the last slot is filled the results go to `done`, in slot order (so the order
// of the results is the order of the requests, not of the arrivals). Shared by the callbacks
// that fill it; single-threaded on the loop that made it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace ix::proxy {

template <class T>
class FanIn : public std::enable_shared_from_this<FanIn<T>> {
 public:
  using Done = std::function<void(std::vector<T>)>;

  // `slots` > 0: with none, there is nothing to wait for and the caller answers itself.
  static std::shared_ptr<FanIn> make(size_t slots, Done done) {
    return std::shared_ptr<FanIn>(new FanIn(slots, std::move(done)));
  }

  // Fills a slot; the last one runs done. A slot filled twice keeps its first value.
  void put(size_t slot, T value) {
    if (slot >= slots_.size() || slots_[slot]) return;
    slots_[slot].emplace(std::move(value));
    if (--missing_ > 0) return;
    std::vector<T> results;
    results.reserve(slots_.size());
    for (std::optional<T>& v : slots_) results.push_back(std::move(*v));
    Done done = std::move(done_);
    done(std::move(results));
  }
  // A callback that fills `slot` (keeps the FanIn alive until it runs).
  std::function<void(T)> slot(size_t slot) {
    return [self = this->shared_from_this(), slot](T value) { self->put(slot, std::move(value)); };
  }

 private:
  FanIn(size_t slots, Done done) : slots_(slots), missing_(slots), done_(std::move(done)) {}

  std::vector<std::optional<T>> slots_;
  size_t missing_;
  Done done_;
};

}  // namespace ix::proxy
