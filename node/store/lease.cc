#include "node/store/lease.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ix::node {

Lease::~Lease() { release(); }

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

Result<Lease> Lease::try_acquire(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Error{0, "cannot open lease file \"" + lock_path + "\": " + std::strerror(errno)};
  Lease lease;
  lease.path_ = lock_path;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return lease;  // someone else is primary
    return Error{0, "cannot lock lease file \"" + lock_path + "\": " + std::strerror(error)};
  }
  lease.fd_ = fd;
  return lease;
}

void Lease::release() {
  if (fd_ < 0) return;
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace ix::node
