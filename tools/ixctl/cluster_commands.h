// `ixctl cluster up CONFIG | cluster restart NAME | cluster down` (the local cluster launcher)
// and `ixctl status` (the cluster as its admin ports, or one proxy, describe it: pairs with
// primary and backup, proxies, queue depths, agents).
#pragma once

#include "tools/ixctl/client_context.h"

namespace ix::tools {

void add_cluster_commands(CLI::App& app, ClientContext& context);

// The configuration: `given` (--config), else the one the local cluster in `dir` was started
// with; throws CLI::ValidationError when there is neither.
std::string cluster_config_path(const std::string& given, const std::string& dir);

}  // namespace ix::tools
