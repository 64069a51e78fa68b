// `ixctl config ...`: check a configuration file, print the generated reference.
#pragma once

#include <CLI/CLI.hpp>

namespace ix::tools {

// Exit codes of `ixctl config check`.
inline constexpr int kConfigValid = 0;
inline constexpr int kConfigInvalid = 1;
inline constexpr int kConfigUnreadable = 2;

void add_config_commands(CLI::App& app, int& exit_code);

}  // namespace ix::tools
