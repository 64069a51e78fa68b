// `ixctl submit | get | set | pull | deliver | accept | reject | place-in-queue |
// place-in-workbin | transfer | conference | leave | stop | lock | unlock | find | workbin |
// snapshot take/page/release | agent status | ping`: one protocol request each, through a proxy
// or straight to a node.
#pragma once

#include "tools/ixctl/client_context.h"

namespace ix::tools {

void add_request_commands(CLI::App& app, ClientContext& context);

}  // namespace ix::tools
