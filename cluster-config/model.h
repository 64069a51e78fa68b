// The cluster model: what one configuration file describes, as plain C++ types with no I/O.
//
// A ClusterConfig is built by load_config() (loader.h), validated as a whole, and then never
// changed: processes share it as std::shared_ptr<const ClusterConfig> and a reload builds a new
// one (config_store.h). Option names, defaults and ranges live in options.cc, not here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ix::config {

using Duration = std::chrono::milliseconds;

struct Tenant {
  std::string id;
  std::string name;
};

// A disabled media type refuses submissions through the proxy.
struct MediaType {
  std::string name;
  bool enabled = true;
};

struct TlsSettings {
  bool enabled = false;
  std::string cert_file;  // absolute paths (relative ones are resolved against the file's folder)
  std::string key_file;
  std::string ca_file;
  bool require_client_cert = false;
};

// A proxy's own certificate on its links to node pairs that serve TLS (its client certificate),
// separate from the certificate it serves its clients with. Both empty: none.
struct LinkTls {
  std::string cert_file;  // absolute paths
  std::string key_file;
};

// [proxy-auth]: where nodes and proxies read the shared proxy secret (never the value itself).
// Exactly one of the two is set.
struct ProxyAuth {
  std::string secret_file;  // absolute path
  std::string secret_env;   // environment variable name
};

struct ServerEndpoint {
  std::string host;
  uint16_t port = 0;
  uint16_t admin_port = 0;
};

// Exactly one of the two is set.
struct Storage {
  std::string sqlite_path;
  std::string postgresql;  // a libpq connection string without a password
  std::string postgresql_password_env;  // environment variable holding the password, if any
};

enum class MultipleAgentConnections { kAllow, kDeny, kForceLogout };

struct NodeSettings {
  Duration delivering_timeout{};
  Duration handling_timeout{};
  uint32_t max_interactions_per_snapshot = 0;
  uint32_t max_live_interactions = 0;  // a submit beyond this many open interactions is refused
  MultipleAgentConnections allow_multiple_agent_connections = MultipleAgentConnections::kDeny;
  Duration pull_hold_timeout{};
  Duration lease_timeout{};
  Duration event_log_retention{};
  uint32_t max_frame_size = 0;
  Duration submit_key_window{};
  Duration proxy_session_grace{};  // a closed proxy session's agents, locks and snapshots are kept this long
};

struct NodePair {
  std::string id;
  std::string tag;  // carried by every interaction ID the pair generates
  ServerEndpoint primary;
  ServerEndpoint backup;
  TlsSettings tls;
  Storage storage;
  std::vector<std::string> tenants;
  std::vector<std::string> media_types;  // empty = every media type
  bool enable_submit = true;
  uint32_t agent_seats = 0;
  NodeSettings settings;

  bool serves_media(const std::string& media) const;
  bool serves_tenant(const std::string& tenant) const;
};

struct ProxySettings {
  Duration pull_hold_timeout{};
  uint32_t interaction_cache_size = 0;
  Duration request_timeout{};
  bool mark_internal_requests = false;
  uint32_t workers = 1;
  uint32_t reporting_buffer = 0;  // events buffered per reporting client before it is dropped
  uint32_t max_frame_size = 0;
};

struct Proxy {
  std::string id;
  std::string cluster;  // the proxy cluster it belongs to
  ServerEndpoint endpoint;
  TlsSettings tls;
  LinkTls link_tls;
  ProxySettings settings;
};

struct ProxyCluster {
  std::string id;
  std::string description;
  std::vector<std::string> proxies;  // derived: the proxies that name this cluster
};

struct Queue {
  std::string id;
  std::string tenant;
  std::string description;
};

struct View {
  std::string id;
  std::string tenant;
  std::vector<std::string> queues;
  std::string condition;  // empty = every interaction in the queues
  std::string order;      // e.g. "priority desc, submitted asc"
  bool ordered_pull = false;  // cluster-wide order for pulls (proxy)
};

enum class WorkbinOwner { kAgent, kPlace };

struct WorkbinType {
  std::string id;
  std::string tenant;
  WorkbinOwner owner = WorkbinOwner::kAgent;
};

struct Place {
  std::string id;
  std::string tenant;
};

struct Agent {
  std::string id;
  std::string tenant;
  std::string name;
  std::string place;  // default place, may be empty
};

struct AgentGroup {
  std::string id;
  std::string tenant;
  std::vector<std::string> agents;
  std::vector<std::string> origination_dns;  // virtual queues this group serves
};

struct PacingSection {
  std::string media;  // exactly one media type
  double optimization_goal = 0;  // percent, 0-100
};

struct VirtualQueue {
  std::string id;
  std::string tenant;
  std::optional<PacingSection> pacing;
};

// Derived: a virtual queue with a pacing section plus the agent groups that list it among their
// origination DNs. Named "<virtual queue> - <media>", as in the source documents.
struct PacingTarget {
  std::string name;
  std::string virtual_queue;
  std::string tenant;
  std::string media;
  double optimization_goal = 0;
  std::vector<std::string> agent_groups;
};

struct ForwardProxy {
  std::string host;
  uint16_t port = 0;
};

struct PacingAlarms {
  uint32_t requests_failed_threshold = 0;
  uint32_t target_error_threshold = 0;
  uint32_t validation_error_threshold = 0;
};

// [pacing.priors]: the pacer's assumptions before it has observed a target, each with the
// number of observations it is worth (proxy/pacing/estimates.h).
struct PacingPriorSettings {
  double acceptance = 0;           // share of invitations accepted
  double acceptance_weight = 0;    // answered invitations (also behind answer_delay)
  Duration answer_delay{};
  Duration handle_time{};
  double handle_time_weight = 0;   // handled interactions
  Duration patience{};
  double patience_weight = 0;      // abandonments
};

struct PacingService {
  std::string tenant;
  Duration refresh_period{};
  Duration http_timeout{};
  std::vector<std::string> base_urls;
  std::string target_endpoint;
  std::string credentials_file;  // read at startup; never part of this file
  std::string credentials_env;
  std::string ca_file;
  std::string proactive_filter;   // condition (docs/conditions.md) an interaction must meet to count
  std::string virtual_queue_key;  // user-data key naming an interaction's virtual queue
  std::optional<ForwardProxy> forward_proxy;
  PacingAlarms alarms;
  PacingPriorSettings priors;
  std::string auth_url;              // OAuth2 token URL (http:// or https://)
  std::vector<std::string> proxies;  // proxies running the module; every proxy when unset (resolved)
  std::string lease_pair;            // node pair holding the master lease; the first pair when unset (resolved)
  Duration lease_ttl{};              // of the master lease; >= 2 x http_timeout
};

struct ClusterConfig {
  std::string source_file;
  std::string name;
  std::vector<Tenant> tenants;
  std::vector<MediaType> media_types;
  std::vector<NodePair> node_pairs;
  std::vector<ProxyCluster> proxy_clusters;
  std::vector<Proxy> proxies;
  std::optional<ProxyAuth> proxy_auth;
  std::vector<Queue> queues;
  std::vector<View> views;
  std::vector<WorkbinType> workbin_types;
  std::vector<Place> places;
  std::vector<Agent> agents;
  std::vector<AgentGroup> agent_groups;
  std::vector<VirtualQueue> virtual_queues;
  std::optional<PacingService> pacing;
  std::vector<PacingTarget> pacing_targets;  // derived

  // Every option as written or defaulted, by key path with entity IDs
  // ("node-pairs.pair-1.settings.delivering-timeout" -> "30s"): what a reload compares.
  std::map<std::string, std::string> values;

  const NodePair* node_pair(const std::string& id) const;
  const NodePair* node_pair_by_tag(const std::string& tag) const;
  const Proxy* proxy(const std::string& id) const;
  const MediaType* media_type(const std::string& media) const;
};

std::string format_duration(Duration d);

}  // namespace ix::config
