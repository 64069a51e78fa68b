// NodeLink: one worker's connection to one ixnode process — the primary or the backup endpoint
// of a node pair (proxy_anchors.md: one multiplexed connection per node per loop).
//
// The link keeps the connection up (Connector: backoff with jitter), registers as a proxy, and
// learns the node's role from the registration reply and from EventServerRoleChanged. Requests
// from every client of the worker share the connection: send() gives each its own upstream
// ref_id, starts its deadline, and calls the reply callback exactly once — with the node's reply,
// or with an error. Frames the node sends on its own (invitations, revocations, workbin changes)
// go to the event callback.
//
// One failure stays with the request that caused it (DESIGN.md §7), because the node's session
// for this connection holds every agent the worker logged in, their locks and snapshots:
//   - a request that would exceed the node's max-frame-size once re-addressed is not sent: it
//     fails with FrameTooLarge (the node would close the whole connection over it);
//   - a reply that fails verification, or exceeds the proxy's max-frame-size, fails its own
//     request at once (MalformedMessage / UnknownMessage / FrameTooLarge naming the node, read
//     by its ref_id from the envelope's root table) and is logged; the connection stays;
//   - a request that misses its deadline gets 2002; the node becomes suspect and is probed with
//     a RequestPing (answered on the node's loop, without storage) within kProbeTimeoutMs. The
//     connection is dropped only when the probe goes unanswered (the node is stalled or gone:
//     its other requests fail at once and new ones fail fast until it answers again) or after
//     kMissesBeforeDrop probe rounds without an in-time reply in between (the loop answers but
//     requests never do). An in-time reply clears the suspicion.
// 2002 also answers every request in flight when the connection drops. The node then holds the
// worker's agents, locks and snapshots for its pair's proxy-session-grace: the registration
// names the worker (proxy_name) and this proxy process (proxy_instance), and the worker's next
// registration takes them back without a logout (node/server/proxy_session_holds.h).
//
// Owned by a PairLink on one worker loop; single-threaded.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/http/metrics.h"
#include "protocol/net/connector.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/request_timers.h"
#include "protocol/net/timer.h"
#include "protocol/net/turn_clock.h"
#include "protocol/result.h"
#include "proxy/server/outgoing.h"
#include "proxy/upstream/in_flight_table.h"

namespace ix::proxy {

enum class NodeRole { kDown = 0, kRegistering = 1, kPrimary = 2, kBackup = 3 };  // values are the upstream gauge's
const char* node_role_name(NodeRole role);

// A node's answer to one request; valid only during the reply callback.
struct UpstreamReply {
  const proto::Envelope* envelope = nullptr;  // null when the request failed
  std::span<const uint8_t> payload;           // the verified frame payload
  Error error;                                // 2002 when envelope is null
};

struct NodeLinkOptions {
  std::string proxy_name;  // sent in the registration
  // The [proxy-auth] secret, sent in the registration (empty: none; a link certificate on the
  // connector's TLS context may authenticate the proxy instead).
  std::string proxy_secret;
  // This proxy process's instance token, sent in the registration with proxy_name: the node
  // gives what this worker's previous connection held back to the next one only when both
  // match (a restarted proxy is a new instance).
  std::string proxy_instance;
  net::ConnectorOptions connector;
  size_t max_frame_size = 0;       // the largest reply accepted (the proxy's max-frame-size)
  size_t node_max_frame_size = 0;  // the largest request the node accepts (its pair's); 0: max_frame_size
  uint64_t request_timeout_ms = 10'000;
  // Where each request's time to its reply is observed (ix_proxy_upstream_seconds{pair,worker}),
  // except a request given a longer deadline than request_timeout_ms (a held pull, whose wait
  // for work is not the node's latency). Null: not observed. Owned by the link's worker, as is
  // the clock that stamps the sends and replies (null: uv_hrtime itself).
  metrics::Histogram* reply_seconds = nullptr;
  net::TurnClock* clock = nullptr;
};

// Probe rounds (a missed deadline, then an answered ping) without an in-time reply in between
// after which the connection is dropped anyway.
inline constexpr int kMissesBeforeDrop = 3;
// How long a node has to answer the ping that follows a missed deadline (at most the
// request-timeout). A node whose loop runs answers a ping in well under a millisecond on a LAN.
inline constexpr uint64_t kProbeTimeoutMs = 1000;

class NodeLink {
 public:
  using ReplyCallback = std::function<void(const UpstreamReply&)>;
  using EventCallback = std::function<void(const proto::Envelope&, std::span<const uint8_t> payload)>;
  using RoleCallback = std::function<void(NodeRole role)>;

  NodeLink(uv_loop_t* loop, std::string name, net::Endpoint endpoint, NodeLinkOptions options);
  ~NodeLink();
  NodeLink(const NodeLink&) = delete;
  NodeLink& operator=(const NodeLink&) = delete;

  void set_on_event(EventCallback cb) { on_event_ = std::move(cb); }
  void set_on_role(RoleCallback cb) { on_role_ = std::move(cb); }

  void start();
  // Closes the connection; pending requests are answered with 2002 on the next loop turn (never
  // from inside stop()), with why as the text (by default: the proxy is closing its connection).
  // Requests still unanswered when the link is destroyed are dropped.
  void stop(const std::string& why = "");

  // Sends the request addressed to this link's next ref and upstream_client, with a deadline of
  // timeout_ms (0: the request-timeout). Returns false — without calling on_reply — when the
  // link cannot carry it.
  bool send(const Outgoing& request, uint64_t upstream_client, ReplyCallback on_reply, uint64_t timeout_ms = 0);

  NodeRole role() const { return role_; }
  const std::string& name() const { return name_; }  // "pair-1 primary (127.0.0.1:7101)"
  const std::string& last_error() const { return last_error_; }
  size_t in_flight() const { return pending_.size(); }
  // A request missed its deadline and no reply has come in time since.
  bool suspect() const { return suspect_; }
  // Requests failed because their reply could not be read (or was too large), since start.
  uint64_t unreadable_replies() const { return unreadable_replies_; }
  uint64_t connects() const { return connector_.connects(); }
  void set_request_timeout(uint64_t ms) { options_.request_timeout_ms = ms; }

 private:
  void on_connected(const std::shared_ptr<net::Connection>& connection);
  void on_disconnected(const std::string& reason);
  void on_message(const proto::Envelope& envelope, std::span<const uint8_t> payload);
  void set_role(NodeRole role);
  void fail_all(const std::string& why);
  void on_deadline(uint64_t upstream_ref);
  void on_unreadable(std::optional<wire::EnvelopeIds> ids, proto::ErrorCode code, const std::string& text);
  void on_probe_deadline();
  // Answers callback with error on the next loop turn (never from inside an API call).
  void defer(ReplyCallback callback, Error error);
  // The worker's turn clock, or the clock itself for a link made without one.
  uint64_t now_ns() const { return options_.clock ? options_.clock->now_ns() : uv_hrtime(); }
  void reset_suspicion();

  std::string name_;
  NodeLinkOptions options_;
  net::Connector connector_;
  std::unique_ptr<net::MessageChannel> channel_;
  net::RequestTimers deadlines_;
  struct Pending {
    ReplyCallback on_reply;
    uint64_t sent_ns = 0;  // 0: its reply time is not observed
  };
  InFlightTable<Pending> pending_;  // also hands out the refs of the registration and the pings
  std::vector<std::pair<ReplyCallback, Error>> deferred_;  // answered on the next turn
  net::Timer next_turn_;
  uint64_t registration_ref_ = 0;
  uint64_t probe_ref_ = 0;  // the ping in flight after a missed deadline, or 0
  int misses_ = 0;          // probe rounds since the last in-time reply
  bool suspect_ = false;
  uint64_t unreadable_replies_ = 0;
  NodeRole role_ = NodeRole::kDown;
  std::string last_error_ = "not connected yet";
  EventCallback on_event_;
  RoleCallback on_role_;
};

}  // namespace ix::proxy
