// `ixctl pair switchover PAIR`: hands a node pair's lease from its primary to its backup at once
// (a planned switchover, for a rolling upgrade), through the nodes' admin ports: the backup is
// told to expect the lease (POST /pair/expect-takeover: it tries every 2 ms), the primary to
// hand it over (POST /pair/switchover: it refuses new requests, lets the commits in flight
// finish, releases the lease); ixctl then waits until the backup says it is the primary.
// Blocking, in ixctl's main thread.
#pragma once

#include <CLI/CLI.hpp>

namespace ix::tools {

void add_pair_commands(CLI::App& app, int& exit_code);

}  // namespace ix::tools
