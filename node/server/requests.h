// The node's request handlers: free functions over the ServiceContext, one file per kind of
// request, as the proxy's are over its RequestContext. The InteractionService dispatches each
// request to one of them (interaction_service.cc); transfers and conferences go to the
// context's Transfers part. Each validates the request against the model, refuses it with a
// clear error or applies it and commits (ServiceContext::commit): the client hears the answer
// once the change is in the store. Loop thread only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "node/server/service_context.h"

namespace ix::node {

// interaction_requests.cc: submit, properties, queues, pull, reporting subscriptions.
void handle_submit(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_get_properties(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_change_properties(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_place_in_queue(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_stop_processing(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_pull(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_start_reporting(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_stop_reporting(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
// Where a statistics engine starts: open interactions and agents as of the last assigned seq.
void handle_reporting_state(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
// Offers the held pulls what is queued now (after every request and every change that can
// free an interaction).
void serve_held_pulls(ServiceContext& ctx);

// agent_requests.cc: login, logout, ready / not ready, do-not-disturb, media, status.
void handle_agent_login(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_agent_logout(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_agent_readiness(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, bool ready);
void handle_agent_dnd(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_agent_add_media(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_agent_remove_media(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_agent_status(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
// The desktop disconnected (or a proxy's session was not taken over within its grace): the
// agents only it spoke for are logged out, with `reason` in EventAgentLogout.
void logout_agents_of(ServiceContext& ctx, ClientSession& session, const std::string& reason = "desktop disconnected");

// delivery_requests.cc: deliver, accept, reject, leave, and the delivering/handling timeouts.
// (Transfer and conference: Transfers::invite.)
void handle_deliver(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_accept(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_reject(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_leave(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
// Takes the interaction back from its agent (delivering- or handling-timeout passed).
void on_delivery_timeout(ServiceContext& ctx, const std::string& interaction_id);

// query_requests.cc: find, snapshots, locks, and the views compiled from the configuration.
Result<std::map<std::string, CompiledView>> compile_views(const config::ClusterConfig& config);
void handle_find(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_take_snapshot(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_snapshot_page(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_release_snapshot(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_lock(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, bool lock);
// Queued, unlocked interactions of the queues that meet the view, in its order.
std::vector<Interaction*> select(ServiceContext& ctx, const std::vector<std::string>& queues, const CompiledView& view,
                                 size_t limit);

// workbin_requests.cc: place in a workbin, content, listeners, pulls from a workbin.
void handle_place_in_workbin(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_workbin_content(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void handle_workbin_subscribe(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
void pull_from_workbin(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e);
// Takes an interaction out of its workbin (reporting it) before it goes elsewhere.
void leave_workbin(ServiceContext& ctx, Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events);

}  // namespace ix::node
