// The series every ixcluster process exports besides its own (one call from AdminServer):
//
//   ix_build_info{version,commit} 1          which build runs (protocol/build_info.h)
//   process_cpu_seconds_total                user + system CPU time, from /proc/self/stat
//   process_resident_memory_bytes            resident set size, from /proc/self/statm
//   process_virtual_memory_bytes             virtual memory size, from /proc/self/statm
//   process_open_fds, process_max_fds        entries of /proc/self/fd; RLIMIT_NOFILE
//   process_start_time_seconds               start time since the Unix epoch (/proc/self/stat, btime)
//   ix_config_reload_success                 1 when the last configuration (re)load succeeded
//   ix_config_reload_timestamp_seconds       when that was (the start, until a reload)
//
// The process_* names and meanings are the Prometheus client libraries' standard ones, read at
// render time (a few small /proc reads per scrape) on the admin port's loop thread.
// record_config_reload() may be called from any thread.
#pragma once

#include "protocol/http/metrics.h"

namespace ix::metrics {

void register_process_metrics(Registry& registry);

// The outcome of a configuration reload (SIGHUP): applied or refused.
void record_config_reload(Registry& registry, bool applied);

}  // namespace ix::metrics
