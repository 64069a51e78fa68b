#include "tools/ixctl/request_commands.h"

#include "tools/ixctl/session_commands.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

namespace ix::tools {

namespace {

using C = proto::ClientType;

constexpr uint64_t kRetryPauseMs = 200;  // between submit attempts

// Registers `callback` as the subcommand's action; the context's exit code takes its result.
template <class F>
void on_run(CLI::App* command, ClientContext& context, F callback) {
  command->callback([&context, callback] { context.exit_code = callback(); });
}

uint64_t steady_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// A request_id nobody else will choose: 128 random bits.
std::string random_request_id() {
  std::random_device random;
  char text[40];
  std::snprintf(text, sizeof text, "ixctl-%08x%08x%08x%08x", random(), random(), random(), random());
  return text;
}

// A submit that is not answered (connection lost, no answer in time) or answered 2002 may still
// have been applied: it is sent again with the same request_id — through the next --server —
// until it is answered or retry_for_ms has passed; the cluster answers a retry with the
// interaction the first one created.
int submit_with_retries(ClientContext& context, const proto::RequestSubmitT& request, uint64_t retry_for_ms) {
  const uint64_t give_up = steady_ms() + retry_for_ms;
  Error last{0, "not sent"};
  int attempts = 0;
  for (size_t server = 0;; ++server) {
    ++attempts;
    OpenAttempt open = try_open_client(context, C::MediaServer, server);
    if (open.refusal) return print_reply(*open.refusal, context.output);
    if (open.client) {
      Result<Reply> reply = open.client->call(request, context.timeout_ms());
      if (reply && !(reply->error() && reply->error()->code == static_cast<int>(proto::ErrorCode::ClusterLostConnection))) {
        return print_reply(*reply, context.output);
      }
      last = reply ? Error{reply->error()->code, reply->error()->text} : reply.error();
    } else {
      last = open.failure;
    }
    if (BlockingClient::interrupted() || steady_ms() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetryPauseMs));
  }
  last.text += " (request_id " + request.request_id + ", " + std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") + ")";
  // Still 2002 or no answer: whether the interaction exists is unknown (exit 2); the same
  // command with --request-id finds out.
  if (last.code != 0) last.text = "error " + std::to_string(last.code) + ": " + last.text;
  return print_unreachable(last, context.output);
}

void add_submit(CLI::App& app, ClientContext& context) {
  struct Args {
    proto::RequestSubmitT request;
    std::vector<std::string> data;
    double retry_for_s = 10;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("submit", "submit a new interaction (as a media server)");
  c->add_option("--tenant", a->request.tenant_id, "tenant ID")->required();
  c->add_option("--media", a->request.media_type, "media type, e.g. chat")->required();
  c->add_option("--queue", a->request.queue, "the queue it enters")->required();
  c->add_option("--type", a->request.interaction_type, "interaction type, e.g. Inbound");
  c->add_option("--subtype", a->request.interaction_subtype, "interaction subtype");
  c->add_option("--id", a->request.interaction_id, "client-supplied interaction ID");
  c->add_option("--parent", a->request.parent_id, "parent interaction ID");
  c->add_option("--priority", a->request.priority, "priority (higher is served first)");
  c->add_option("--data", a->data, "user data: key=value (string) or key:=123 (integer); repeatable");
  c->add_option("--request-id", a->request.request_id,
                "idempotency key (default: a random one): a submit retried with the same key is answered with the interaction the first one created");
  c->add_option("--retry-for", a->retry_for_s,
                "seconds to keep retrying (same request ID, next --server) a submit that got no answer or 2002; 0: no retry")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  on_run(c, context, [a, &context] {
    a->request.user_data = parse_kv(a->data, "--data");
    if (a->request.request_id.empty()) a->request.request_id = random_request_id();
    return submit_with_retries(context, a->request, static_cast<uint64_t>(a->retry_for_s * 1000));
  });
}

void add_get(CLI::App& app, ClientContext& context) {
  auto r = std::make_shared<proto::RequestGetPropertiesT>();
  CLI::App* c = app.add_subcommand("get", "show an interaction's properties");
  c->add_option("id", r->interaction_id, "interaction ID")->required();
  c->add_option("--key", r->keys, "only these user-data keys; repeatable");
  on_run(c, context, [r, &context] { return exchange(context, C::AgentApplication, *r); });
}

void add_set(CLI::App& app, ClientContext& context) {
  struct Args {
    proto::RequestChangePropertiesT request;
    std::vector<std::string> changed, added;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("set", "change an interaction's user data");
  c->add_option("id", a->request.interaction_id, "interaction ID")->required();
  c->add_option("--set", a->changed, "replace: key=value or key:=123; repeatable");
  c->add_option("--add", a->added, "add: key=value or key:=123; repeatable");
  c->add_option("--delete", a->request.deleted, "delete this key; repeatable");
  c->add_option("--agent", a->request.agent_id, "the agent making the change");
  on_run(c, context, [a, &context] {
    if (a->changed.empty() && a->added.empty() && a->request.deleted.empty()) {
      throw CLI::ValidationError("set", "nothing to change: give --set, --add or --delete");
    }
    a->request.changed = parse_kv(a->changed, "--set");
    a->request.added = parse_kv(a->added, "--add");
    return exchange(context, C::AgentApplication, a->request);
  });
}

void add_pull(CLI::App& app, ClientContext& context) {
  auto r = std::make_shared<proto::RequestPullT>();
  CLI::App* c = app.add_subcommand("pull", "take interactions from a view, a queue or a workbin (as a routing engine)");
  c->add_option("--tenant", r->tenant_id, "tenant ID")->required();
  auto* view = c->add_option("--view", r->view_id, "pull from this view");
  auto* queue = c->add_option("--queue", r->queue, "pull straight from this queue");
  auto* workbin = c->add_option("--workbin", r->workbin_type, "pull from this workbin type (with --owner-agent/--owner-place)");
  view->excludes(queue)->excludes(workbin);
  queue->excludes(workbin);
  c->add_option("--owner-agent", r->owner_agent_id, "workbin owner (agent)");
  c->add_option("--owner-place", r->owner_place_id, "workbin owner (place)");
  c->add_option("--count", r->count, "how many at most")->capture_default_str();
  c->add_option("--hold", r->hold_time_ms, "wait up to this many milliseconds for something to pull");
  c->add_flag("--for-strategy", r->for_strategy, "the routing strategy becomes a party");
  on_run(c, context, [r, &context] {
    if (r->view_id.empty() && r->queue.empty() && r->workbin_type.empty()) {
      throw CLI::ValidationError("pull", "give one of --view, --queue or --workbin");
    }
    return exchange(context, C::RoutingEngine, *r, r->hold_time_ms);
  });
}

// The requests that name an interaction and an agent and nothing else: a one-option table.
template <class Request>
CLI::App* add_interaction_agent_command(CLI::App& app, ClientContext& context, const char* name, const char* what,
                                        C type, bool agent_required, std::shared_ptr<Request> r) {
  CLI::App* c = app.add_subcommand(name, what);
  c->add_option("id", r->interaction_id, "interaction ID")->required();
  auto* agent = c->add_option("--agent", r->agent_id, "agent ID");
  if (agent_required) agent->required();
  on_run(c, context, [r, &context, type] { return exchange(context, type, *r); });
  return c;
}

void add_delivery(CLI::App& app, ClientContext& context) {
  auto deliver = std::make_shared<proto::RequestDeliverT>();
  add_interaction_agent_command(app, context, "deliver", "offer an interaction to an agent (as a routing engine)",
                                C::RoutingEngine, true, deliver)
      ->add_option("--place", deliver->place_id, "the agent's place");

  auto accept = std::make_shared<proto::RequestAcceptT>();
  add_interaction_agent_command(app, context, "accept", "accept an invitation (from the agent's own session)",
                                C::AgentApplication, true, accept)
      ->add_option("--ticket", accept->ticket_id, "the invitation's ticket")
      ->required();

  struct Reject {
    std::shared_ptr<proto::RequestRejectT> request = std::make_shared<proto::RequestRejectT>();
    std::vector<std::string> reason;
  };
  auto reject = std::make_shared<Reject>();
  CLI::App* c = add_interaction_agent_command(app, context, "reject", "reject an invitation (from the agent's own session)",
                                              C::AgentApplication, true, reject->request);
  c->add_option("--ticket", reject->request->ticket_id, "the invitation's ticket")->required();
  c->add_option("--reason", reject->reason, "reason: key=value; repeatable");
  c->parse_complete_callback([reject] { reject->request->reason = parse_kv(reject->reason, "--reason"); });
}

void add_placement(CLI::App& app, ClientContext& context) {
  auto queue = std::make_shared<proto::RequestPlaceInQueueT>();
  add_interaction_agent_command(app, context, "place-in-queue", "move an interaction to a queue", C::RoutingEngine, false, queue)
      ->add_option("--queue", queue->queue, "target queue")
      ->required();

  auto workbin = std::make_shared<proto::RequestPlaceInWorkbinT>();
  CLI::App* c = add_interaction_agent_command(app, context, "place-in-workbin", "move an interaction to a workbin",
                                              C::RoutingEngine, false, workbin);
  c->add_option("--workbin", workbin->workbin_type, "workbin type")->required();
  c->add_option("--owner-agent", workbin->owner_agent_id, "owning agent");
  c->add_option("--owner-place", workbin->owner_place_id, "owning place");

  for (auto [name, what] : {std::pair{"transfer", "hand an interaction to another agent (from the agent's session)"},
                            std::pair{"conference", "invite another agent into an interaction (from the agent's session)"}}) {
    auto r = std::make_shared<proto::RequestTransferT>();
    CLI::App* t = app.add_subcommand(name, what);
    t->add_option("id", r->interaction_id, "interaction ID")->required();
    t->add_option("--agent", r->agent_id, "the agent handling it")->required();
    t->add_option("--to-agent", r->target_agent_id, "target agent")->required();
    t->add_option("--to-place", r->target_place_id, "target place");
    const bool conference = std::string(name) == "conference";
    on_run(t, context, [r, &context, conference] {
      if (!conference) return exchange(context, C::AgentApplication, *r);
      proto::RequestConferenceT invite;
      invite.interaction_id = r->interaction_id;
      invite.agent_id = r->agent_id;
      invite.target_agent_id = r->target_agent_id;
      invite.target_place_id = r->target_place_id;
      return exchange(context, C::AgentApplication, invite);
    });
  }

  struct Stop {
    std::shared_ptr<proto::RequestStopProcessingT> request = std::make_shared<proto::RequestStopProcessingT>();
    std::vector<std::string> reason;
  };
  auto stop = std::make_shared<Stop>();
  add_interaction_agent_command(app, context, "stop", "stop processing an interaction (it ends)", C::MediaServer, false,
                                stop->request)
      ->add_option("--reason", stop->reason, "reason: key=value; repeatable");
  app.get_subcommand("stop")->parse_complete_callback([stop] { stop->request->reason = parse_kv(stop->reason, "--reason"); });

  struct Leave {
    std::shared_ptr<proto::RequestLeaveInteractionT> request = std::make_shared<proto::RequestLeaveInteractionT>();
    std::vector<std::string> reason;
  };
  auto leave = std::make_shared<Leave>();
  add_interaction_agent_command(app, context, "leave", "an agent leaves an interaction (from the agent's session)",
                                C::AgentApplication, true, leave->request)
      ->add_option("--reason", leave->reason, "reason: key=value; repeatable");
  app.get_subcommand("leave")->parse_complete_callback([leave] { leave->request->reason = parse_kv(leave->reason, "--reason"); });

  for (auto [name, what] : {std::pair{"lock", "lock an interaction"}, std::pair{"unlock", "unlock an interaction"}}) {
    auto r = std::make_shared<proto::RequestLockT>();
    CLI::App* l = app.add_subcommand(name, what);
    l->add_option("id", r->interaction_id, "interaction ID")->required();
    l->add_option("--owner", r->owner, "lock owner")->required();
    const bool unlock = std::string(name) == "unlock";
    on_run(l, context, [r, &context, unlock] {
      if (!unlock) return exchange(context, C::RoutingEngine, *r);
      proto::RequestUnlockT u;
      u.interaction_id = r->interaction_id;
      u.owner = r->owner;
      return exchange(context, C::RoutingEngine, u);
    });
  }
}

void add_queries(CLI::App& app, ClientContext& context) {
  auto find = std::make_shared<proto::RequestFindT>();
  CLI::App* f = app.add_subcommand("find", "search interactions across the cluster");
  f->add_option("--tenant", find->tenant_id, "tenant ID")->required();
  f->add_option("--where", find->condition, "condition, e.g. \"media_type = 'chat' and priority > 3\" (docs/conditions.md)");
  f->add_option("--order", find->order, "order, e.g. \"priority desc, submitted asc\"");
  f->add_option("--limit", find->limit, "at most this many (default 100)");
  f->add_flag("--partial", find->accept_partial, "accept a partial result when a node pair cannot answer");
  on_run(f, context, [find, &context] { return exchange(context, C::AgentApplication, *find); });

  auto workbin = std::make_shared<proto::RequestWorkbinContentT>();
  auto watch = std::make_shared<double>(-1);
  CLI::App* w = app.add_subcommand("workbin", "list a workbin's content (and with --watch, its changes as they happen)");
  w->add_option("--tenant", workbin->tenant_id, "tenant ID")->required();
  w->add_option("--workbin", workbin->workbin_type, "workbin type")->required();
  w->add_option("--owner-agent", workbin->owner_agent_id, "owning agent");
  w->add_option("--owner-place", workbin->owner_place_id, "owning place");
  w->add_flag("--partial", workbin->accept_partial, "accept a partial result when a node pair cannot answer");
  w->add_option("--watch", *watch, "then print every change for this many seconds (0: until Ctrl-C)")->expected(0, 1)->default_str("0");
  on_run(w, context, [workbin, watch, &context] {
    if (*watch < 0) return exchange(context, C::AgentApplication, *workbin);
    return watch_workbin(context, *workbin, *watch);
  });

  CLI::App* s = app.add_subcommand("snapshot", "take, page through and release snapshots");
  s->require_subcommand(1);
  auto take = std::make_shared<proto::RequestTakeSnapshotT>();
  CLI::App* t = s->add_subcommand("take", "take a snapshot of a view or of a condition");
  t->add_option("--tenant", take->tenant_id, "tenant ID")->required();
  t->add_option("--view", take->view_id, "the view to snapshot");
  t->add_option("--where", take->condition, "condition (docs/conditions.md)");
  t->add_option("--order", take->order, "order");
  t->add_option("--max", take->max, "at most this many interactions");
  t->add_flag("--lock", take->lock, "lock the interactions in the snapshot");
  on_run(t, context, [take, &context] { return exchange(context, C::RoutingEngine, *take); });

  auto page = std::make_shared<proto::RequestSnapshotPageT>();
  page->count = 100;
  CLI::App* p = s->add_subcommand("page", "show part of a snapshot (through a proxy: any proxy of the cluster)");
  p->add_option("id", page->snapshot_id, "snapshot ID")->required();
  p->add_option("--start", page->start, "first position (0-based)")->capture_default_str();
  p->add_option("--count", page->count, "how many")->capture_default_str();
  on_run(p, context, [page, &context] { return exchange(context, C::RoutingEngine, *page); });

  auto release = std::make_shared<proto::RequestReleaseSnapshotT>();
  CLI::App* r = s->add_subcommand("release", "release a snapshot (and its locks)");
  r->add_option("id", release->snapshot_id, "snapshot ID")->required();
  on_run(r, context, [release, &context] { return exchange(context, C::RoutingEngine, *release); });

  auto ping = std::make_shared<proto::RequestPingT>();
  CLI::App* g = app.add_subcommand("ping", "check that a node answers (a proxy is no server: it answers 2000)");
  on_run(g, context, [ping, &context] { return exchange(context, C::AgentApplication, *ping); });
}

}  // namespace

void add_request_commands(CLI::App& app, ClientContext& context) {
  add_submit(app, context);
  add_get(app, context);
  add_set(app, context);
  add_pull(app, context);
  add_delivery(app, context);
  add_placement(app, context);
  add_queries(app, context);
}

}  // namespace ix::tools
