// ixctl: the operator's command-line tool. Today: `ixctl config check FILE` and
// `ixctl config reference`; the client commands and the local cluster launcher join it later.
#include <CLI/CLI.hpp>

#include "tools/ixctl/config_command.h"

int main(int argc, char** argv) {
  CLI::App app{"ixctl: ixcluster command-line tool"};
  app.require_subcommand(1);
  int exit_code = 0;
  ix::tools::add_config_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
