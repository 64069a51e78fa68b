#include "cluster-config/options.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace ix::config {

namespace {

using enum ValueType;
constexpr Reload kRestart = Reload::kRestart;
constexpr double kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;
constexpr double kPortMin = 1, kPortMax = 65535;
// A listening port may be 0: the OS chooses one when the process starts, and the process reports
// it (ixnode/ixproxy --ports-file). Tests start their clusters this way.
constexpr double kListenPortMin = 0;

// Keys shared by the TLS sections of node pairs and proxies.
void add_tls(std::vector<OptionSpec>& o, std::string_view section) {
  o.push_back({section, "enabled", kBool, false, "false", 0, 0, {}, kRestart, "Serve the protocol port over TLS."});
  o.push_back({section, "cert-file", kString, false, "", 0, 0, {}, kRestart, "PEM certificate chain (required when enabled)."});
  o.push_back({section, "key-file", kString, false, "", 0, 0, {}, kRestart, "PEM private key (required when enabled)."});
  o.push_back({section, "ca-file", kString, false, "", 0, 0, {}, kRestart, "PEM CA certificates: they verify client certificates; in `node-pairs.tls` proxies also verify the nodes' certificates with them (the certificate itself when empty)."});
  o.push_back({section, "require-client-cert", kBool, false, "false", 0, 0, {}, kRestart, "Refuse clients without a certificate signed by `ca-file`."});
}

void add_endpoint(std::vector<OptionSpec>& o, std::string_view section, std::string_view what) {
  o.push_back({section, "host", kString, true, "", 0, 0, {}, kRestart, what});
  o.push_back({section, "port", kInt, true, "", kListenPortMin, kPortMax, {}, kRestart,
               "Protocol port. 0: the operating system chooses one at start (the process reports it with `--ports-file`; whoever connects must then be told the real port)."});
  o.push_back({section, "admin-port", kInt, true, "", kListenPortMin, kPortMax, {}, kRestart,
               "Admin HTTP port (`/metrics`, `/healthz`, `/readyz`, `/status`). 0: chosen by the operating system, like `port`."});
}

std::vector<OptionSpec> build_options() {
  std::vector<OptionSpec> o;
  o.push_back({"", "name", kString, false, "ixcluster", 0, 0, {}, Reload::kImmediate, "The cluster's name, shown by tools and the status page."});

  o.push_back({"tenants", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Tenant ID."});
  o.push_back({"tenants", "name", kString, false, "", 0, 0, {}, Reload::kImmediate, "Display name."});

  o.push_back({"media-types", "name", kString, true, "", 0, 0, {}, Reload::kImmediate, "Media type name (`chat`, `email`, ...)."});
  o.push_back({"media-types", "enabled", kBool, false, "true", 0, 0, {}, Reload::kImmediate, "A disabled media type refuses submissions through the proxy (error 2001)."});

  o.push_back({"node-pairs", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Node pair ID."});
  o.push_back({"node-pairs", "tag", kString, true, "", 0, 0, {}, kRestart,
               "Short tag (1-8 of a-z, 0-9) embedded in every interaction ID the pair generates; unique in the cluster."});
  o.push_back({"node-pairs", "tenants", kStringList, true, "", 0, 0, {}, Reload::kImmediate, "Tenants the pair serves."});
  o.push_back({"node-pairs", "media-types", kStringList, false, "[]", 0, 0, {}, Reload::kImmediate,
               "`[cluster-settings] media-types`: media types the pair accepts; empty = all."});
  o.push_back({"node-pairs", "enable-submit", kBool, false, "true", 0, 0, {}, Reload::kImmediate,
               "`[cluster-settings] enable-submit`: whether the proxy may route new submissions here."});
  o.push_back({"node-pairs", "agent-seats", kInt, false, "1000", 0, 1'000'000, {}, Reload::kImmediate,
               "Agent-seat licenses: logins beyond this count are refused."});
  add_endpoint(o, "node-pairs.primary", "Host of the preferred primary node.");
  add_endpoint(o, "node-pairs.backup", "Host of the backup node.");
  add_tls(o, "node-pairs.tls");
  o.push_back({"node-pairs.storage", "sqlite-path", kString, false, "", 0, 0, {}, kRestart,
               "SQLite database file shared by the pair (relative to the configuration file). Exactly one of `sqlite-path` and `postgresql`."});
  o.push_back({"node-pairs.storage", "postgresql", kString, false, "", 0, 0, {}, kRestart,
               "libpq connection string, without a password."});
  o.push_back({"node-pairs.storage", "postgresql-password-env", kString, false, "", 0, 0, {}, kRestart,
               "Environment variable that holds the PostgreSQL password."});
  o.push_back({"node-pairs.settings", "delivering-timeout", kDuration, false, "30s", 1 * kSecond, kHour, {}, Reload::kImmediate,
               "An invitation not answered within this time returns to its queue (EventRevoked)."});
  o.push_back({"node-pairs.settings", "handling-timeout", kDuration, false, "180m", kSecond, 7 * kDay, {}, Reload::kImmediate,
               "An interaction whose handling agent sends no request for this long is revoked back to its queue."});
  o.push_back({"node-pairs.settings", "max-interactions-per-snapshot", kInt, false, "500", 1, 100'000, {}, Reload::kImmediate,
               "Upper bound on a snapshot, per node (a cluster snapshot may hold more)."});
  o.push_back({"node-pairs.settings", "max-live-interactions", kInt, false, "1000000", 1, 100'000'000, {}, Reload::kImmediate,
               "Open interactions (queued, delivering, handled, in workbins) a node holds in memory, about 2 kB each; beyond this a submit is refused with 312 InteractionLimitReached instead of the node running out of memory. Stopped interactions free their place."});
  o.push_back({"node-pairs.settings", "allow-multiple-agent-connections", kEnum, false, "false", 0, 0,
               {"true", "false", "force-logout"}, Reload::kImmediate,
               "A second desktop connection for a logged-in agent: allowed, refused, or logs the first one out. `false` is recommended in a cluster."});
  o.push_back({"node-pairs.settings", "pull-hold-timeout", kDuration, false, "10s", kSecond, 600 * kSecond, {}, Reload::kImmediate,
               "`[settings] pull-hold-timeout`: longest time an empty pull waits for an interaction."});
  o.push_back({"node-pairs.settings", "lease-timeout", kDuration, false, "5s", kSecond, 60 * kSecond, {}, kRestart,
               "The pair's lease, kept in the pair's database: the primary renews it every quarter of this and stops serving once it has not confirmed a renewal for four fifths of it; the backup takes over when it has run out. The longest a pair is without a primary after its primary dies or freezes."});
  o.push_back({"node-pairs.settings", "event-log-retention", kDuration, false, "7d", kSecond, 365 * kDay, {}, Reload::kImmediate,
               "Reporting events older than this are dropped from the event log; a reporting client cannot resume from before them."});
  o.push_back({"node-pairs.settings", "max-frame-size", kInt, false, "4194304", 1024, 64 << 20, {}, kRestart,
               "Largest protocol frame accepted, in bytes."});
  o.push_back({"node-pairs.settings", "submit-key-window", kDuration, false, "10m", kSecond, kDay, {}, Reload::kImmediate,
               "How long the pair keeps a submit's `request_id` (in its database, so across a failover): a retry with the same key within it is answered with the interaction the first submit created."});
  o.push_back({"node-pairs.settings", "proxy-session-grace", kDuration, false, "5s", 0, 5 * kMinute, {}, Reload::kImmediate,
               "How long a node keeps the agents, locks and snapshots of a proxy's connection after it closes: the same proxy worker reconnecting within it takes them over without a logout or login in the reporting stream; after it they are logged out and released as for any client. 0 releases them at once."});

  o.push_back({"proxy-clusters", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Proxy cluster ID."});
  o.push_back({"proxy-clusters", "description", kString, false, "", 0, 0, {}, Reload::kImmediate, "What the cluster's clients are (desktops, reporting)."});

  o.push_back({"proxies", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Proxy ID."});
  o.push_back({"proxies", "cluster", kString, true, "", 0, 0, {}, Reload::kImmediate, "The proxy cluster it belongs to."});
  add_endpoint(o, "proxies", "Host the proxy listens on.");
  add_tls(o, "proxies.tls");
  o.push_back({"proxies.link-tls", "cert-file", kString, false, "", 0, 0, {}, kRestart,
               "PEM certificate chain the proxy presents to node pairs that serve TLS, signed by the pair's `ca-file`; its common name or a DNS subject alternative name must be the proxy's `id`. Set with `key-file`."});
  o.push_back({"proxies.link-tls", "key-file", kString, false, "", 0, 0, {}, kRestart, "PEM private key of the link certificate."});
  o.push_back({"proxies.settings", "pull-hold-timeout", kDuration, false, "10s", kSecond, 600 * kSecond, {}, Reload::kImmediate,
               "Caps the hold time of strategy pulls; overrides the nodes' setting."});
  o.push_back({"proxies.settings", "interaction-cache-size", kInt, false, "10000", 100, 10'000'000, {}, kRestart,
               "Entries in the interaction-ID cache (oldest evicted first)."});
  o.push_back({"proxies.settings", "request-timeout", kDuration, false, "10s", 100, 300 * kSecond, {}, Reload::kImmediate,
               "Deadline of every request forwarded to a node."});
  o.push_back({"proxies.settings", "mark-internal-requests", kBool, false, "false", 0, 0, {}, Reload::kImmediate,
               "Debug: tag the requests the proxy itself sends to nodes."});
  o.push_back({"proxies.settings", "workers", kInt, false, "1", 1, 64, {}, kRestart, "Event-loop threads accepting on the port."});
  o.push_back({"proxies.settings", "reporting-buffer", kInt, false, "10000", 100, 10'000'000, {}, Reload::kImmediate,
               "Reporting events buffered for a slow reporting client before it is disconnected. Also the bound of the proxy's "
               "merged reporting stream between its threads (per worker and per pacing module, at least 65,536 events; "
               "`ix_proxy_reporting_feed_cut_offs_total`)."});
  o.push_back({"proxies.settings", "max-frame-size", kInt, false, "4194304", 1024, 64 << 20, {}, kRestart,
               "Largest protocol frame accepted, in bytes."});

  o.push_back({"proxy-auth", "secret-file", kString, false, "", 0, 0, {}, kRestart,
               "File holding the proxy secret (at least 16 characters; surrounding white space is ignored). Exactly one of `secret-file` and `secret-env`."});
  o.push_back({"proxy-auth", "secret-env", kString, false, "", 0, 0, {}, kRestart,
               "Environment variable holding the proxy secret."});

  o.push_back({"queues", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Queue ID."});
  o.push_back({"queues", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"queues", "description", kString, false, "", 0, 0, {}, Reload::kImmediate, "Free text."});

  o.push_back({"views", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "View ID."});
  o.push_back({"views", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"views", "queues", kStringList, true, "", 0, 0, {}, Reload::kImmediate, "Queues the view selects from."});
  o.push_back({"views", "condition", kString, false, "", 0, 0, {}, Reload::kImmediate, "Condition over interaction attributes and user data; empty = all."});
  o.push_back({"views", "order", kString, false, "priority desc, submitted asc", 0, 0, {}, Reload::kImmediate, "Order in which interactions are taken."});
  o.push_back({"views", "ordered-pull", kBool, false, "false", 0, 0, {}, Reload::kImmediate,
               "Pulls through a proxy take interactions in cluster-wide order instead of spreading across pairs."});

  o.push_back({"workbin-types", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Workbin type ID."});
  o.push_back({"workbin-types", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"workbin-types", "owner", kEnum, false, "agent", 0, 0, {"agent", "place"}, Reload::kImmediate, "Whose workbins these are."});

  o.push_back({"places", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Place ID."});
  o.push_back({"places", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});

  o.push_back({"agents", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Agent ID."});
  o.push_back({"agents", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"agents", "name", kString, false, "", 0, 0, {}, Reload::kImmediate, "Display name."});
  o.push_back({"agents", "place", kString, false, "", 0, 0, {}, Reload::kImmediate, "Default place."});

  o.push_back({"agent-groups", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Agent group ID."});
  o.push_back({"agent-groups", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"agent-groups", "agents", kStringList, false, "[]", 0, 0, {}, Reload::kImmediate, "Member agents."});
  o.push_back({"agent-groups", "origination-dns", kStringList, false, "[]", 0, 0, {}, Reload::kImmediate,
               "Virtual queues the group serves; a virtual queue with a pacing section makes the group part of that pacing target."});

  o.push_back({"virtual-queues", "id", kString, true, "", 0, 0, {}, Reload::kImmediate, "Virtual queue ID (its number and alias)."});
  o.push_back({"virtual-queues", "tenant", kString, true, "", 0, 0, {}, Reload::kImmediate, "Owning tenant."});
  o.push_back({"virtual-queues.pacing", "media", kString, true, "", 0, 0, {}, Reload::kImmediate,
               "The single media type of the pacing target.", "the name of one media type (a list is not allowed)"});
  o.push_back({"virtual-queues.pacing", "optimizationGoal", kFloat, false, "3", 0, 100, {}, Reload::kImmediate,
               "Highest allowed percentage of proactive interactions abandoned before an agent joins."});

  o.push_back({"pacing", "tenant", kString, true, "", 0, 0, {}, kRestart, "Pacing serves one tenant."});
  o.push_back({"pacing", "refresh-period", kDuration, false, "5s", kSecond, 300 * kSecond, {}, Reload::kImmediate,
               "How often pacing computes and posts the allowed invitations."});
  o.push_back({"pacing", "http-timeout", kDuration, false, "3s", 100, 60 * kSecond, {}, Reload::kImmediate,
               "Deadline of one post to the engagement service, token included; shorter than refresh-period."});
  o.push_back({"pacing", "credentials-file", kString, false, "", 0, 0, {}, kRestart,
               "File holding the engagement service's client ID and secret. Exactly one of `credentials-file` and `credentials-env`."});
  o.push_back({"pacing", "credentials-env", kString, false, "", 0, 0, {}, kRestart,
               "Environment variable holding `client-id:secret`."});
  o.push_back({"pacing", "proactive-filter", kString, false, "interaction_subtype = 'Proactive'", 0, 0, {}, Reload::kImmediate,
               "Which interactions count for a pacing target: a condition in the language of docs/conditions.md (the counterpart of the `PACS_Proactive_Interaction` filter)."});
  o.push_back({"pacing", "virtual-queue-key", kString, false, "VirtualQueue", 0, 0, {}, Reload::kImmediate,
               "User-data key whose value names the virtual queue of a proactive interaction; the interaction counts for the pacing target of that virtual queue and its media type."});
  o.push_back({"pacing", "ca-file", kString, false, "", 0, 0, {}, kRestart, "PEM CA certificates for the engagement service's TLS certificate."});
  o.push_back({"pacing", "auth-url", kString, true, "", 0, 0, {}, kRestart,
               "OAuth2 token URL of the engagement service (`base_auth_url`, client-credentials grant); an http:// or https:// URL."});
  o.push_back({"pacing", "proxies", kStringList, false, "", 0, 0, {}, kRestart,
               "IDs of the proxies that run the pacing module (each must be in [[proxies]]); unset or empty: every proxy. One of them at a time is the master that posts, elected with a lease on `lease-pair`."});
  o.push_back({"pacing", "lease-pair", kString, false, "", 0, 0, {}, kRestart,
               "Node pair (an ID from [[node-pairs]]) whose database holds the pacing master lease; unset: the first pair. The lease survives that pair's failover."});
  o.push_back({"pacing", "lease-ttl", kDuration, false, "10s", kSecond, 300 * kSecond, {}, kRestart,
               "Time to live of the pacing master lease: the master renews every third of it and stops posting before it could run out; another proxy takes over within one lease-ttl of the master's death. Must be at least 2 x http-timeout, so that a post started while master ends before the lease could pass on."});
  o.push_back({"pacing.endpoint", "base-urls", kStringList, true, "", 0, 0, {}, Reload::kImmediate,
               "Engagement service base URLs (`https://host:port/api/`), tried in order."});
  o.push_back({"pacing.endpoint", "target-endpoint", kString, false, "v2/journey/actiontargets/bulk", 0, 0, {}, Reload::kImmediate,
               "`[pacingEndpoint] targetEndpoint`: path appended to the base URL."});
  o.push_back({"pacing.forward-proxy", "host", kString, true, "", 0, 0, {}, Reload::kImmediate, "Forward proxy host."});
  o.push_back({"pacing.forward-proxy", "port", kInt, true, "", kPortMin, kPortMax, {}, Reload::kImmediate, "Forward proxy port."});
  o.push_back({"pacing.alarms", "requests-failed-threshold", kInt, false, "3", 1, 1000, {}, Reload::kImmediate,
               "PacingRequestsFailed is raised after this many failed posts in a row."});
  o.push_back({"pacing.alarms", "target-error-threshold", kInt, false, "1", 1, 1000, {}, Reload::kImmediate,
               "PacingResponseTargetError is raised after this many responses reporting target errors."});
  o.push_back({"pacing.alarms", "validation-error-threshold", kInt, false, "1", 1, 1000, {}, Reload::kImmediate,
               "PacingResponseValidationError is raised after this many invalid responses."});
  o.push_back({"pacing.priors", "acceptance", kFloat, false, "0.2", 0.01, 1, {}, Reload::kImmediate,
               "Share of invitations accepted, assumed until the engagement service reports answers (the pacer never estimates below 0.01).",
               "a share from 0.01 to 1 (0.2: one invitation in five is accepted)"});
  o.push_back({"pacing.priors", "acceptance-weight", kFloat, false, "50", 0.01, 1e6, {}, Reload::kImmediate,
               "Answered invitations the acceptance and answer-delay priors are worth: the observed ones outweigh them once there are more."});
  o.push_back({"pacing.priors", "answer-delay", kDuration, false, "10s", 0, kHour, {}, Reload::kImmediate,
               "Mean time from sending an invitation to its answer, assumed until answers are reported."});
  o.push_back({"pacing.priors", "handle-time", kDuration, false, "3m", kSecond, kDay, {}, Reload::kImmediate,
               "Mean handling time of a proactive interaction, assumed until handled ones are observed."});
  o.push_back({"pacing.priors", "handle-time-weight", kFloat, false, "10", 0.01, 1e6, {}, Reload::kImmediate,
               "Handled interactions the handle-time prior is worth."});
  o.push_back({"pacing.priors", "patience", kDuration, false, "60s", kSecond, kDay, {}, Reload::kImmediate,
               "Mean time a customer waits for an agent before abandoning, assumed until waits are observed."});
  o.push_back({"pacing.priors", "patience-weight", kFloat, false, "3", 0.01, 1e6, {}, Reload::kImmediate,
               "Abandonments the patience prior is worth."});
  return o;
}

std::vector<SectionSpec> build_sections() {
  return {
      {"", false, true, "", Reload::kImmediate, "Top level."},
      {"tenants", true, true, "id", Reload::kImmediate, "`[[tenants]]`: the tenants of the contact center."},
      {"media-types", true, true, "name", Reload::kImmediate, "`[[media-types]]`: the media types interactions may have."},
      {"node-pairs", true, true, "id", Reload::kImmediate, "`[[node-pairs]]`: primary/backup pairs of ixnode sharing one database."},
      {"node-pairs.primary", false, true, "", kRestart, "The preferred primary node of the pair."},
      {"node-pairs.backup", false, true, "", kRestart, "The backup node of the pair."},
      {"node-pairs.tls", false, false, "", kRestart, "TLS on the pair's protocol ports."},
      {"node-pairs.storage", false, true, "", kRestart, "The database the pair shares."},
      {"node-pairs.settings", false, false, "", Reload::kImmediate, "`[settings]`: node options."},
      {"proxy-clusters", true, false, "id", Reload::kImmediate, "`[[proxy-clusters]]`: groups of proxies that serve the same clients."},
      {"proxies", true, false, "id", Reload::kImmediate, "`[[proxies]]`: ixproxy instances."},
      {"proxies.tls", false, false, "", kRestart, "TLS on the proxy's client port."},
      {"proxies.link-tls", false, false, "", kRestart,
       "The proxy's client certificate on its links to node pairs that serve TLS (not the certificate of `proxies.tls`, which serves the proxy's own clients). A node accepts it as a proxy's when the pair's `ca-file` verifies it and it names a proxy of the file."},
      {"proxies.settings", false, false, "", Reload::kImmediate, "`[settings]`: proxy options."},
      {"proxy-auth", false, false, "", kRestart,
       "`[proxy-auth]`: the shared secret a proxy sends when it registers with a node, which every node checks before it accepts the proxy client type from a connection without a proxy's link certificate. Read by every node and proxy at start; needed when the file has proxies and a pair serves plain TCP (see docs/operations.md, \"Proxy authentication\")."},
      {"queues", true, false, "id", Reload::kImmediate, "`[[queues]]`: interaction queues."},
      {"views", true, false, "id", Reload::kImmediate, "`[[views]]`: queues plus a condition and an order, pulled by routing engines."},
      {"workbin-types", true, false, "id", Reload::kImmediate, "`[[workbin-types]]`: personal or place workbins."},
      {"places", true, false, "id", Reload::kImmediate, "`[[places]]`."},
      {"agents", true, false, "id", Reload::kImmediate, "`[[agents]]`."},
      {"agent-groups", true, false, "id", Reload::kImmediate, "`[[agent-groups]]`: agents and the virtual queues (origination DNs) they serve."},
      {"virtual-queues", true, false, "id", Reload::kImmediate, "`[[virtual-queues]]`."},
      {"virtual-queues.pacing", false, false, "", Reload::kImmediate,
       "`[pacing]` section of a virtual queue: makes it (with the agent groups that list it) a pacing target."},
      {"pacing", false, false, "", kRestart, "`[pacing]`: the pacing module in the proxy."},
      {"pacing.endpoint", false, true, "", Reload::kImmediate, "`[pacingEndpoint]`: where results are posted."},
      {"pacing.forward-proxy", false, false, "", Reload::kImmediate, "`[forward-proxy]`: optional HTTP forward proxy."},
      {"pacing.alarms", false, false, "", Reload::kImmediate, "Alarm thresholds."},
      {"pacing.priors", false, false, "", Reload::kImmediate,
       "What the pacer assumes of a target before it has observed enough, each with the number of observations it is worth: every estimate is shrunk toward its prior, so a handful of events cannot swing the pacer, and with nothing observed it paces on the priors alone."},
  };
}

}  // namespace

const std::vector<SectionSpec>& section_specs() {
  static const std::vector<SectionSpec> sections = build_sections();
  return sections;
}

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> options = build_options();
  return options;
}

const SectionSpec* find_section(std::string_view path) {
  for (const SectionSpec& s : section_specs()) {
    if (s.path == path) return &s;
  }
  return nullptr;
}

const OptionSpec* find_option(std::string_view section, std::string_view key) {
  for (const OptionSpec& o : option_specs()) {
    if (o.section == section && o.key == key) return &o;
  }
  return nullptr;
}

std::optional<long long> parse_duration_ms(std::string_view text) {
  long long number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 0) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  long long scale;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m" || unit == "min") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  else return std::nullopt;
  if (number > (1LL << 40)) return std::nullopt;
  return number * scale;
}

namespace {

std::string format_ms(double ms) {
  long long v = static_cast<long long>(ms);
  if (v % 86'400'000 == 0 && v != 0) return std::to_string(v / 86'400'000) + "d";
  if (v % 3'600'000 == 0 && v != 0) return std::to_string(v / 3'600'000) + "h";
  if (v % 60'000 == 0 && v != 0) return std::to_string(v / 60'000) + "m";
  if (v % 1000 == 0) return std::to_string(v / 1000) + "s";
  return std::to_string(v) + "ms";
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

std::string describe_expected(const OptionSpec& spec) {
  if (!spec.expected.empty()) return std::string(spec.expected);
  bool ranged = spec.min != 0 || spec.max != 0;
  switch (spec.type) {
    case kString: return "a string";
    case kBool: return "true or false";
    case kStringList: return "a list of strings";
    case kInt:
      return ranged ? "an integer from " + format_number(spec.min) + " to " + format_number(spec.max) : "an integer";
    case kFloat:
      return ranged ? "a number from " + format_number(spec.min) + " to " + format_number(spec.max) : "a number";
    case kDuration:
      return "a duration such as \"30s\", \"250ms\", \"3m\", \"2h\" (or whole seconds)" +
             (ranged ? " from " + format_ms(spec.min) + " to " + format_ms(spec.max) : std::string());
    case kEnum: {
      std::string out = "one of";
      for (size_t i = 0; i < spec.choices.size(); ++i) out += (i ? ", " : " ") + std::string(spec.choices[i]);
      return out;
    }
  }
  return "a value";
}

std::string reference_markdown() {
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated from cluster-config/options.cc by `ixctl config reference`; a test keeps it in sync. -->\n\n"
      "One TOML file describes the whole cluster; every process reads it (`--config FILE`). "
      "`ixctl config check FILE` validates it. Unknown keys are errors. Durations are strings with a unit "
      "(`\"250ms\"`, `\"30s\"`, `\"3m\"`, `\"2h\"`, `\"1d\"`) or whole seconds. Relative file paths are "
      "resolved against the configuration file's folder. Secrets never go in this file: pacing credentials "
      "come from `credentials-file` or `credentials-env`, a PostgreSQL password from `postgresql-password-env`, the "
      "proxy secret from `secret-file` or `secret-env` in `[proxy-auth]`.\n\n"
      "A reload (SIGHUP) applies a new file only if it is valid; options marked *restart* take effect when "
      "the process restarts, and the reload says which changed options need it.\n";
  for (const SectionSpec& section : section_specs()) {
    std::string title = section.path.empty() ? "Top level" : (section.array ? "[[" : "[") + std::string(section.path) + (section.array ? "]]" : "]");
    out += "\n## " + title + "\n\n" + std::string(section.description) +
           (section.required ? " Required." : " Optional.") + "\n\n";
    out += "| key | type | default | on change | description |\n|---|---|---|---|---|\n";
    for (const OptionSpec& o : option_specs()) {
      if (o.section != section.path) continue;
      std::string def = o.required ? "required" : (o.default_value.empty() ? "—" : "`" + std::string(o.default_value) + "`");
      out += "| `" + std::string(o.key) + "` | " + describe_expected(o) + " | " + def + " | " +
             (o.reload == Reload::kRestart ? "restart" : "reload") + " | " + std::string(o.description) + " |\n";
    }
  }
  return out;
}

}  // namespace ix::config
