// Logging: structured, one event per line, with levels (DESIGN.md §8).
//
// Every line reads `ts=... level=... proc=... <key=value ...>`; callers write their message as
// key=value pairs (`event=listening port=7000`), quoting values that contain spaces with quote().
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace ix {

// Sets up the default logger for a process (stderr). level: trace, debug, info, warn, error.
void init_logging(const std::string& process_name, const std::string& level = "info");

// "text" with inner quotes and backslashes escaped, for a value with spaces.
std::string quote(std::string_view text);

}  // namespace ix
