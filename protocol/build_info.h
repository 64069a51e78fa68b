// Build identity: the version and git commit this binary was built from, for `--version`,
// /status and the ix_build_info metric. The values are fixed at configure time (CMake writes
// them into a generated build_info.cc); both functions are safe from any thread.
#pragma once

#include <string_view>

namespace ix {

// The CMake project version, e.g. "0.1.0".
std::string_view build_version();
// The abbreviated git commit (12 hex digits) of the source tree at configure time; "unknown" when
// the tree was not a git checkout (a source tarball) or git was not installed.
std::string_view build_commit();

}  // namespace ix
