// `ixctl store copy --from sqlite:PATH --to postgresql:CONNINFO`: moves a stopped node pair's
// database from SQLite to PostgreSQL (docs/operations.md, "PostgreSQL"). Offline and one-way:
// it refuses a source whose pair lease is still held (a node is running) and a target that
// already holds rows, creates the schema, copies the interactions, the event log, the counters
// and the lease table (fencing numbers included), and verifies row counts and the event log's
// sequence numbers on both sides before it reports success. Runs on the main thread with a loop
// of its own for the store's completions.
#pragma once

#include <CLI/CLI.hpp>

namespace ix::tools {

void add_store_commands(CLI::App& app, int& exit_code);

}  // namespace ix::tools
