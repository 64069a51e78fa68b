// The log line of a configuration reload (SIGHUP): one line, with one field per change that
// concerns this process, at error when the new file was refused. Called on the thread that
// handles SIGHUP (the process's main loop).
#pragma once

#include <string>

#include "cluster-config/config_store.h"

namespace ix::config {

// Who is reloading: a node of pair `id`, or the proxy `id`.
enum class ReloadingProcess { Node, Proxy };

// "event=reload applied=false errors=2 error.1=\"…\" error.2=\"…\" kept=previous" (error), or
// "event=reload applied=true changes=2 change.1=\"key: old -> new\" restart.1=false …" (info), leaving out
// changes to other node pairs' and other proxies' entries. The line as logged.
std::string log_reload(const ReloadReport& report, ReloadingProcess process, const std::string& id);

// Whether a change's key path ("node-pairs[pair-2].settings…", "proxies[proxy-1]…") concerns
// the process: a node its own pair's entry, a proxy every pair's and its own proxy entry, and
// [pacing] and [[proxy-clusters]] the proxies only; every other change concerns every process.
bool change_concerns(const std::string& key_path, ReloadingProcess process, const std::string& id);

}  // namespace ix::config
