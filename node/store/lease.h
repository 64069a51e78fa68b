// Lease: leadership of a node pair, held through the operating system.
//
// The lease is an exclusive flock() on a lock file next to the pair's SQLite database. The
// kernel releases it when the holder's process dies, however it dies, so the backup can take
// over without any timeout guessing. Held for the life of the Lease object.
#pragma once

#include <string>

#include "protocol/result.h"

namespace ix::node {

class Lease {
 public:
  Lease() = default;
  ~Lease();
  Lease(Lease&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Tries once, without blocking. ok() with held() false: another process holds it.
  static Result<Lease> try_acquire(const std::string& lock_path);

  bool held() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  void release();

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace ix::node
