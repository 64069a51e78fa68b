#include "tools/ixctl/session_commands.h"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <sstream>

#include "protocol/wire/message_json.h"

namespace ix::tools {

namespace {

using C = proto::ClientType;

// Ctrl-C (or SIGTERM) ends a live command cleanly — its session closes, its agent logs out —
// instead of killing it: the BlockingClient notices the signal wherever it waits.
bool interrupted() { return BlockingClient::interrupted(); }

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// "pair-1-primary:42" → ResumePosition.
std::unique_ptr<proto::ResumePositionT> parse_resume(const std::string& text) {
  const size_t colon = text.rfind(':');
  auto position = std::make_unique<proto::ResumePositionT>();
  try {
    if (colon == std::string::npos || colon == 0) throw std::invalid_argument("no colon");
    position->node_id = text.substr(0, colon);
    size_t used = 0;
    position->seq = std::stoull(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw CLI::ValidationError("--resume", "\"" + text + "\" is not NODE:SEQ (the last sequence number seen from that node)");
  }
  return position;
}

struct TailArgs {
  std::vector<std::string> tenants;
  std::vector<std::string> classes;
  std::vector<std::string> types;
  std::vector<std::string> resume;
  std::string match;
  uint64_t count = 0;
  double for_s = 0;
};

int run_tail(ClientContext& context, const TailArgs& a) {
  proto::RequestStartReportingT start;
  start.tenant_ids = a.tenants;
  for (const std::string& c : a.classes) {
    start.classes.push_back(c == "agent" ? proto::ReportingClass::Agent : proto::ReportingClass::Interaction);
  }
  for (const std::string& r : a.resume) start.resume.push_back(parse_resume(r));
  std::unique_ptr<BlockingClient> client = open_client(context, C::ReportingEngine);
  if (!client) return context.exit_code;
  Result<Reply> started = client->call(start);
  if (!started) return print_unreachable(started.error(), context.output);
  if (started->error()) return print_reply(*started, context.output);
  const uint64_t until = a.for_s > 0 ? now_ms() + static_cast<uint64_t>(a.for_s * 1000) : 0;
  uint64_t printed = 0;
  while (!interrupted() && (a.count == 0 || printed < a.count)) {
    const uint64_t now = now_ms();
    if (until && now >= until) break;
    // Wake up at least every 200 ms to notice Ctrl-C and the end of --for.
    std::optional<Reply> event = client->next_event(until ? std::min<uint64_t>(until - now, 200) : 200);
    if (!event) {
      if (client->closed()) return print_unreachable(Error{0, "the server closed the stream: " + client->close_reason()}, context.output);
      continue;
    }
    if (event->error()) return print_reply(*event, context.output);  // e.g. cut off for reading too slowly
    const std::string type = proto::EnumNameMessage(event->envelope->body.type);
    if (!a.types.empty() && std::find(a.types.begin(), a.types.end(), type) == a.types.end()) continue;
    if (!a.match.empty() && wire::message_json(event->payload).dump().find(a.match) == std::string::npos) continue;
    print_event(*event, context.output);
    ++printed;
  }
  return kExitOk;
}

// The agent desktop in a terminal: one request per line typed on stdin.
struct AgentArgs {
  std::string tenant, agent, place;
  std::vector<std::string> media;
  bool ready = false;
  double for_s = 0;
};

const char* kAgentHelp =
    "commands: ready [MEDIA] | not-ready [MEDIA] [key=value…] | dnd on|off | add-media MEDIA[:N] |\n"
    "          remove-media MEDIA | accept ID TICKET | reject ID TICKET | stop ID | leave ID | status |\n"
    "          logout (or end of input)\n";

// Builds the request a command line stands for and sends it; false for an unknown command.
bool agent_command(BlockingClient& client, ClientContext& context, const AgentArgs& a, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  auto word = [&](size_t i) { return i < words.size() ? words[i] : std::string(); };
  auto ticket = [&] { try { return std::stoull(word(1)); } catch (const std::exception&) { return 0ull; } };
  auto send = [&](const auto& request) {
    Result<Reply> reply = client.call(request);
    if (!reply) print_unreachable(reply.error(), context.output);
    else print_reply(*reply, context.output);
  };
  if (verb == "ready") {
    proto::RequestAgentReadyT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent, r.media_type = word(0);
    send(r);
  } else if (verb == "not-ready") {
    std::vector<std::string> reason;
    std::string media;
    for (const std::string& w : words) {
      if (w.find('=') == std::string::npos) media = w;
      else reason.push_back(w);
    }
    proto::RequestAgentNotReadyT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent, r.media_type = media, r.reason = parse_kv(reason, "not-ready");
    send(r);
  } else if (verb == "dnd") {
    proto::RequestAgentDoNotDisturbT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent, r.on = word(0) != "off";
    send(r);
  } else if (verb == "add-media") {
    proto::RequestAgentAddMediaT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent, r.media = parse_media(word(0));
    send(r);
  } else if (verb == "remove-media") {
    proto::RequestAgentRemoveMediaT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent, r.media_type = word(0);
    send(r);
  } else if (verb == "accept") {
    proto::RequestAcceptT r;
    r.interaction_id = word(0), r.agent_id = a.agent, r.ticket_id = ticket();
    send(r);
  } else if (verb == "reject") {
    proto::RequestRejectT r;
    r.interaction_id = word(0), r.agent_id = a.agent, r.ticket_id = ticket();
    send(r);
  } else if (verb == "stop") {
    proto::RequestStopProcessingT r;
    r.interaction_id = word(0), r.agent_id = a.agent;
    send(r);
  } else if (verb == "leave") {
    proto::RequestLeaveInteractionT r;
    r.interaction_id = word(0), r.agent_id = a.agent;
    send(r);
  } else if (verb == "status") {
    proto::RequestAgentStatusT r;
    r.tenant_id = a.tenant, r.agent_id = a.agent;
    send(r);
  } else {
    return false;
  }
  return true;
}

int run_agent_session(ClientContext& context, const AgentArgs& a) {
  proto::RequestAgentLoginT login;
  login.tenant_id = a.tenant;
  login.agent_id = a.agent;
  login.place_id = a.place;
  for (const std::string& m : a.media) login.media.push_back(parse_media(m));
  std::unique_ptr<BlockingClient> client = open_client(context, C::AgentApplication);
  if (!client) return context.exit_code;
  Result<Reply> reply = client->call(login);
  if (!reply) return print_unreachable(reply.error(), context.output);
  if (int code = print_reply(*reply, context.output); code != kExitOk) return code;
  if (a.ready) agent_command(*client, context, a, "ready");
  if (!context.output.json) std::cerr << kAgentHelp;
  const uint64_t until = a.for_s > 0 ? now_ms() + static_cast<uint64_t>(a.for_s * 1000) : 0;
  bool input_open = true;
  std::string pending;
  bool quit = false;
  while (!quit && !interrupted() && !client->closed() && (!until || now_ms() < until)) {
    // Invitations and state changes as they come; commands as lines arrive on stdin.
    while (std::optional<Reply> event = client->next_event(1)) print_event(*event, context.output);
    pollfd in{STDIN_FILENO, POLLIN, 0};
    if (!input_open || ::poll(&in, 1, 50) <= 0) {
      client->run_for(50);
      continue;
    }
    char buffer[512];
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n <= 0) {
      input_open = false;
      if (!until) break;  // end of input logs out, unless told to stay for a while
      continue;
    }
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      if (line.empty()) continue;
      if (line == "logout" || line == "quit") {
        quit = true;
        break;
      }
      try {
        if (!agent_command(*client, context, a, line)) std::cerr << "unknown command \"" << line << "\"\n" << kAgentHelp;
      } catch (const CLI::ValidationError& e) {
        std::cerr << e.what() << "\n";
      }
    }
  }
  if (client->closed()) return print_unreachable(Error{0, "connection lost: " + client->close_reason()}, context.output);
  proto::RequestAgentLogoutT logout;
  logout.tenant_id = a.tenant;
  logout.agent_id = a.agent;
  Result<Reply> out = client->call(logout);
  if (!out) return print_unreachable(out.error(), context.output);
  return print_reply(*out, context.output);
}

}  // namespace

int watch_workbin(ClientContext& context, const proto::RequestWorkbinContentT& content, double for_s) {
  std::unique_ptr<BlockingClient> client = open_client(context, C::AgentApplication);
  if (!client) return context.exit_code;
  proto::RequestWorkbinSubscribeT subscribe;
  subscribe.tenant_id = content.tenant_id;
  subscribe.workbin_type = content.workbin_type;
  subscribe.owner_agent_id = content.owner_agent_id;
  subscribe.owner_place_id = content.owner_place_id;
  Result<Reply> listed = client->call(content);
  if (!listed) return print_unreachable(listed.error(), context.output);
  if (int code = print_reply(*listed, context.output); code != kExitOk) return code;
  Result<Reply> subscribed = client->call(subscribe);
  if (!subscribed) return print_unreachable(subscribed.error(), context.output);
  if (subscribed->error()) return print_reply(*subscribed, context.output);
  const uint64_t until = for_s > 0 ? now_ms() + static_cast<uint64_t>(for_s * 1000) : 0;
  while (!interrupted() && (!until || now_ms() < until)) {
    std::optional<Reply> event = client->next_event(200);
    if (event) print_event(*event, context.output);
    if (client->closed()) return print_unreachable(Error{0, "connection lost: " + client->close_reason()}, context.output);
  }
  return kExitOk;
}

void add_tail_command(CLI::App& app, ClientContext& context) {
  auto a = std::make_shared<TailArgs>();
  CLI::App* c = app.add_subcommand("tail", "print the reporting stream live (one line per event)");
  c->add_option("--tenant", a->tenants, "only these tenants; repeatable");
  c->add_option("--class", a->classes, "interaction or agent events only")->check(CLI::IsMember({"interaction", "agent"}));
  c->add_option("--type", a->types, "only this event type, e.g. EventPlacedInQueue; repeatable");
  c->add_option("--match", a->match, "only events whose JSON contains this text (an interaction or agent ID)");
  c->add_option("--resume", a->resume, "NODE:SEQ, the last event seen from a node: start after it; repeatable");
  c->add_option("--count", a->count, "stop after this many events");
  c->add_option("--for", a->for_s, "stop after this many seconds");
  c->callback([a, &context] { context.exit_code = run_tail(context, *a); });
}

void add_agent_commands(CLI::App& app, ClientContext& context) {
  CLI::App* agent = app.add_subcommand("agent", "agent sessions and status");
  agent->require_subcommand(1);

  auto a = std::make_shared<AgentArgs>();
  CLI::App* login = agent->add_subcommand(
      "login", "log an agent in and keep its desktop session: events are printed, commands read from stdin "
               "(ready, not-ready, dnd, accept, reject, stop, logout); the agent logs out when it ends");
  login->add_option("--tenant", a->tenant, "tenant ID")->required();
  login->add_option("--agent", a->agent, "agent ID")->required();
  login->add_option("--place", a->place, "place ID")->required();
  login->add_option("--media", a->media, "media with capacity, e.g. chat:2; repeatable")->required();
  login->add_flag("--ready", a->ready, "go ready on every media right after login");
  login->add_option("--for", a->for_s, "log out after this many seconds (default: at end of input or Ctrl-C)");
  login->callback([a, &context] { context.exit_code = run_agent_session(context, *a); });

  auto status = std::make_shared<proto::RequestAgentStatusT>();
  CLI::App* s = agent->add_subcommand("status", "show an agent's state on the cluster");
  s->add_option("--tenant", status->tenant_id, "tenant ID")->required();
  s->add_option("--agent", status->agent_id, "agent ID")->required();
  s->callback([status, &context] { context.exit_code = exchange(context, C::AgentApplication, *status); });
}

}  // namespace ix::tools
