// `ixctl cluster up CONFIG | cluster down` (the local cluster launcher) and `ixctl status` (the
// cluster as its admin ports describe it: pairs with primary and backup, proxies, queue depths,
// agents).
#pragma once

#include "tools/ixctl/client_context.h"

namespace ix::tools {

void add_cluster_commands(CLI::App& app, ClientContext& context);

}  // namespace ix::tools
