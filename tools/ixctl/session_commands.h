// The ixctl commands that keep a session open: `ixctl tail` (the reporting stream, live) and
// `ixctl agent login` (an agent desktop in a terminal; ready, not-ready, accept, logout … typed
// on stdin), `ixctl workbin --watch`, plus the one-shot `ixctl agent status`.
#pragma once

#include "tools/ixctl/client_context.h"

namespace ix::tools {

void add_tail_command(CLI::App& app, ClientContext& context);
void add_agent_commands(CLI::App& app, ClientContext& context);
// `ixctl workbin --watch`: the content, then every change (EventWorkbinChanged) for for_s
// seconds (0: until Ctrl-C).
int watch_workbin(ClientContext& context, const proto::RequestWorkbinContentT& content, double for_s);

}  // namespace ix::tools
