// Transfers: transfers and conferences waiting for the invitee's answer. The handling agent (or,
// for a conference, any party) invites another agent (EventInvite); the inviter's request is
// answered only when the invitee accepts (the interaction moves, or the invitee joins), rejects,
// or lets delivering-timeout pass (the inviter keeps the interaction and gets the error). It
// owns the pending invitations, one per interaction, and their deadlines.
//
// RequestTransfer and RequestConference come here from the dispatcher; RequestAccept and
// RequestReject (delivery_requests.cc) ask answer_accept/answer_reject first whether they answer
// a pending invitation. Owned by the ServiceContext; loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "node/model/interaction_registry.h"
#include "node/server/client_session.h"
#include "node/server/clock.h"
#include "protocol/wire/messages.h"

namespace ix::node {

class ServiceContext;

class Transfers {
 public:
  explicit Transfers(ServiceContext& ctx);

  // RequestTransfer (conference false) or RequestConference: validates and invites the target.
  void invite(ClientSession& s, const proto::Envelope& e, bool conference);
  // RequestAccept / RequestReject from the invitee of a pending invitation on the interaction:
  // handles it and returns true; false when the request is not such an answer.
  bool answer_accept(ClientSession& s, const proto::Envelope& e, Interaction& interaction);
  bool answer_reject(ClientSession& s, const proto::Envelope& e, Interaction& interaction);
  // Ends a pending invitation without moving the interaction; the inviter gets `error` and,
  // with revoke_invitee, the invitee EventRevoked.
  void fail(const std::string& interaction_id, const std::string& error, bool revoke_invitee);
  bool pending(const std::string& interaction_id) const { return pending_.contains(interaction_id); }
  // Drops every deadline (the service stops).
  void clear() { deadlines_->clear(); }

 private:
  struct Pending {
    std::string interaction_id, from, to;
    uint64_t ticket;
    ClientSession* inviter;  // looked up among the open sessions before it is answered
    uint64_t ref_id, client_id;
    bool conference;  // the invitee joins instead of taking over
  };
  void on_timeout(uint64_t ticket);
  // The invitee's accept: it takes the interaction over or joins it; both requests are answered
  // once that is committed.
  void complete(ClientSession& s, const proto::Envelope& e, Interaction& interaction, const Pending& done);

  ServiceContext& ctx_;
  std::map<std::string, Pending> pending_;  // by interaction
  std::unique_ptr<Deadlines> deadlines_;    // by ticket
};

}  // namespace ix::node
