// ixctl: the operator's command-line tool — protocol requests through a proxy or to a node,
// the live reporting stream, agent sessions, the cluster's status, the local cluster launcher,
// configuration checks, and moving a pair's database (store copy). `ixctl --help` and `ixctl COMMAND --help` say the rest.
#include <CLI/CLI.hpp>

#include "protocol/build_info.h"
#include "tools/ixctl/client_context.h"
#include "tools/ixctl/cluster_commands.h"
#include "tools/ixctl/config_command.h"
#include "tools/ixctl/pacing_commands.h"
#include "tools/ixctl/pair_commands.h"
#include "tools/ixctl/request_commands.h"
#include "tools/ixctl/session_commands.h"
#include "tools/ixctl/store_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ixctl: ixcluster command-line tool"};
  app.set_version_flag("--version", "ixctl " + std::string(ix::build_version()) + " (commit " + std::string(ix::build_commit()) + ")");
  app.require_subcommand(1);
  app.fallthrough();  // the client options may follow the subcommand
  ix::tools::ClientContext context;
  ix::tools::add_client_options(app, context);
  ix::tools::add_request_commands(app, context);
  ix::tools::add_agent_commands(app, context);
  ix::tools::add_tail_command(app, context);
  ix::tools::add_cluster_commands(app, context);
  ix::tools::add_config_commands(app, context.exit_code);
  ix::tools::add_pacing_commands(app, context.exit_code);
  ix::tools::add_store_commands(app, context.exit_code);
  ix::tools::add_pair_commands(app, context.exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : ix::tools::kExitUsage;
  }
  return context.exit_code;
}
