#include "node/server/service_context.h"

#include <algorithm>

#include "node/server/requests.h"
#include "protocol/log.h"

namespace ix::node {

ServiceContext::ServiceContext(uv_loop_t* event_loop, std::shared_ptr<const config::ClusterConfig> cluster_config,
                               std::string id, Store& pair_store, Clock& time, NodeMetrics& counters)
    : loop(event_loop),
      config(std::move(cluster_config)),
      pair_id(std::move(id)),
      store(pair_store),
      clock(time),
      metrics(counters),
      reporting(event_loop, pair_id, pair_store),
      lifecycle(interactions, agents, reporting, time, [this]() -> const config::NodePair& { return pair(); },
                [this](const std::string& interaction_id) { on_delivery_timeout(*this, interaction_id); }),
      transfers(*this),
      held_pulls(time, [this](const ClientSession* s) { return open_session(s) != nullptr; }),
      workbin_listeners([this](const void* key) { return open_session(key); }) {}

const config::Queue* ServiceContext::queue(const std::string& id) const {
  auto q = std::find_if(config->queues.begin(), config->queues.end(), [&](const config::Queue& c) { return c.id == id; });
  return q == config->queues.end() ? nullptr : &*q;
}

void ServiceContext::persist(Transaction& t, const Interaction& interaction) const {
  flatbuffers::FlatBufferBuilder builder(512);
  builder.Finish(proto::InteractionInfo::Pack(builder, &interaction));
  PutInteraction put;
  put.interaction.id = interaction.interaction_id;
  put.interaction.tenant = interaction.tenant_id;
  put.interaction.state = static_cast<int>(interaction.state);
  put.interaction.data.assign(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
  t.mutations.emplace_back(std::move(put));
}

void ServiceContext::commit(ClientSession* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
                            std::vector<RecordedEvent> events, wire::Frame ok) {
  // The session may be gone by the time the commit completes; on_committed looks it up again.
  store.commit(std::move(transaction), [self = std::weak_ptr<ServiceContext*>(self_), session, ref_id, client_id,
                                        events = std::move(events), ok = std::move(ok)](const Status& status) {
    auto alive = self.lock();
    if (!alive) return;  // stopped since: there is no one left to answer
    (*alive)->on_committed(session, ref_id, client_id, status, events, ok);
  });
}

void ServiceContext::commit_ack(ClientSession& s, const proto::Envelope& e, Transaction transaction,
                                std::vector<RecordedEvent> events) {
  commit(&s, e.ref_id(), e.client_id(), std::move(transaction), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void ServiceContext::on_committed(ClientSession* session, uint64_t ref_id, uint64_t client_id, const Status& status,
                                  const std::vector<RecordedEvent>& events, const wire::Frame& ok) {
  ClientSession* s = sessions.contains(session) ? session : nullptr;
  if (!status) {
    metrics.commits_failed().inc();
    failed = true;
    spdlog::critical("event=commit_failed error={}", quote(status.error().text));
    if (s) s->send_error(ref_id, client_id, proto::ErrorCode::Internal, "storage failure: " + status.error().text);
    if (on_fatal) on_fatal("commit failed: " + status.error().text);
    return;
  }
  if (s && !ok.empty()) s->send(std::span<const uint8_t>(ok));
  reporting.publish(events);
}

void ServiceContext::refuse(ClientSession& s, const proto::Envelope& e, proto::ErrorCode code, std::string text) {
  metrics.request_errors(code).inc();
  s.send_error(e.ref_id(), e.client_id(), code, std::move(text));
}

bool ServiceContext::check_tenant_request(ClientSession& s, const proto::Envelope& e, const char* what,
                                          std::initializer_list<std::pair<const char*, const std::string*>> attributes) {
  for (const auto& [name, value] : attributes) {
    if (!value->empty()) continue;
    refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + "." + name + " is missing");
    return false;
  }
  const std::string& tenant = *attributes.begin()->second;
  if (!pair().serves_tenant(tenant)) {
    refuse(s, e, proto::ErrorCode::InvalidAttribute,
           std::string(what) + "." + attributes.begin()->first + " \"" + tenant + "\" is not served by node pair " + pair_id);
    return false;
  }
  return true;
}

Interaction* ServiceContext::find_interaction(ClientSession& s, const proto::Envelope& e, const flatbuffers::String* id,
                                              const char* what) {
  if (id == nullptr || id->size() == 0) {
    refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".interaction_id is missing");
    return nullptr;
  }
  Interaction* interaction = interactions.find(id->str());
  if (interaction == nullptr) {
    refuse(s, e, proto::ErrorCode::UnknownInteraction, "interaction " + id->str() + " does not exist on node pair " + pair_id);
  }
  return interaction;
}

std::function<bool()> ServiceContext::still_open(ClientSession& s) const {
  return [self = std::weak_ptr<ServiceContext*>(self_), session = &s] {
    const std::shared_ptr<ServiceContext*> alive = self.lock();
    return alive && (*alive)->sessions.contains(session);
  };
}

ClientSession* ServiceContext::open_session(const void* key) const {
  auto it = sessions.find(const_cast<ClientSession*>(static_cast<const ClientSession*>(key)));
  return it == sessions.end() ? nullptr : *it;
}

void ServiceContext::notify_agent(const std::string& agent_id, const wire::Frame& frame) {
  AgentState* agent = agents.find(agent_id);
  if (agent == nullptr) return;
  for (const AgentOwner& owner : agent->owners) {
    ClientSession* session = open_session(owner.session);
    if (session == nullptr) continue;
    // Re-address the frame to the logical client that speaks for this agent.
    auto envelope = wire::verify_envelope(std::span(frame).subspan(wire::kFrameHeaderSize));
    if (!envelope.ok()) continue;
    std::unique_ptr<proto::EnvelopeT> native((*envelope)->UnPack());
    native->client_id = owner.client_id;
    session->send(wire::encode_envelope(*native));
  }
}

}  // namespace ix::node
