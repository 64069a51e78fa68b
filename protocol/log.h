// Logging: structured, one event per line, with levels (DESIGN.md §8). Set up once at the start
// of main, before any other thread exists; the logger itself is thread-safe.
//
// Every line reads `ts=... level=... proc=... [fields] <key=value ...>`; callers write their
// message as key=value pairs (`event=listening port=7000`), quoting values that contain spaces
// with quote(). The fields (set_log_fields) say who is speaking: a node's pair, node and role.
//
// Lines go to stderr (systemd's journal collects them) and, with a log file, to that file too.
// SIGUSR1 makes the process reopen its log file (after logrotate moved it): a thread of this
// module waits for the signal, reopens the file and logs event=log_reopened in the new one.
//
// Levels: error is for what an operator must act on (a refused reload, a fatal stop, a failed
// start); warn for what degrades service on its own (a node lost, a slow client); info for
// state changes; debug for the rest.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <string_view>

namespace ix {

// Sets up the default logger for a process. level: trace, debug, info, warn, error. file: also
// append to this file (created if missing), reopened on SIGUSR1; empty for stderr only. Returns
// false (with the reason in `error`) when the file cannot be opened.
bool init_logging(const std::string& process_name, const std::string& level = "info", const std::string& file = "",
                  std::string* error = nullptr);

// Fields written on every line after proc= (e.g. "pair=pair-1 node=backup role=primary"),
// computed for each line on the thread that logs it. Set it before threads start; `fields`
// must be safe to call from every thread that logs.
void set_log_fields(std::function<std::string()> fields);

// "text" with inner quotes and backslashes escaped, for a value with spaces.
std::string quote(std::string_view text);

}  // namespace ix
