// `ixctl pacing ...`: the pacing planner's commands. `pacing model` evaluates Erlang-A (the same
// code the Pacer uses, proxy/pacing/erlang_a.h) for a what-if question: the abandonment, waiting,
// occupancy and mean wait at a given arrival rate, or the largest rate that keeps a goal.
// Runs entirely in ixctl's main thread; no connection to the cluster.
#pragma once

#include <CLI/CLI.hpp>

namespace ix::tools {

void add_pacing_commands(CLI::App& app, int& exit_code);

}  // namespace ix::tools
