#include "tools/ixctl/output.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "protocol/wire/message_json.h"

namespace ix::tools {

namespace {

std::string state_name(proto::InteractionState state) {
  std::string name = proto::EnumNameInteractionState(state);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string time_text(int64_t us) {
  if (us == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03dZ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us / 1000 % 1000));
  return text;
}

std::string where(const proto::InteractionInfoT& i) {
  if (!i.queue.empty()) return i.queue;
  if (!i.workbin_type.empty()) return i.workbin_type + "/" + i.workbin_owner;
  return "-";
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string column(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string partial_note(bool partial, const std::vector<std::string>& missing) {
  if (!partial) return "";
  std::string out = "partial result: no answer from";
  for (const std::string& m : missing) out += " " + m;
  return out + "\n";
}

std::string human(const proto::EnvelopeT& e) {
  using M = proto::Message;
  std::ostringstream out;
  switch (e.body.type) {
    case M::EventAck: return "ok\n";
    case M::EventSubmitted: {
      const auto* s = e.body.AsEventSubmitted();
      return "submitted " + s->interaction_id + (s->node_id.empty() ? "" : " on " + s->node_id) + "\n";
    }
    case M::EventProperties: return interaction_details(*e.body.AsEventProperties()->interaction);
    case M::EventPulled: {
      const auto& list = e.body.AsEventPulled()->interactions;
      return list.empty() ? "nothing to pull\n" : interaction_table(list);
    }
    case M::EventFindResult: {
      const auto* r = e.body.AsEventFindResult();
      return interaction_table(r->interactions) + partial_note(r->partial, r->missing_nodes);
    }
    case M::EventWorkbinContent: {
      const auto* r = e.body.AsEventWorkbinContent();
      return interaction_table(r->interactions) + partial_note(r->partial, r->missing_nodes);
    }
    case M::EventSnapshotTaken: {
      const auto* s = e.body.AsEventSnapshotTaken();
      return "snapshot " + s->snapshot_id + ": " + std::to_string(s->count) + " interactions\n";
    }
    case M::EventSnapshotPage: {
      const auto* p = e.body.AsEventSnapshotPage();
      out << "snapshot " << p->snapshot_id << ", from position " << p->start << ":\n" << interaction_table(p->interactions);
      return out.str();
    }
    case M::EventAgentStatus: {
      const auto* a = e.body.AsEventAgentStatus();
      out << "agent " << a->agent_id << " (tenant " << a->tenant_id << "): "
          << (a->logged_in ? "logged in at " + or_dash(a->place_id) : std::string("logged out"))
          << (a->do_not_disturb ? ", do not disturb" : "") << "\n";
      for (const auto& m : a->media) {
        out << "  " << column(m->media_type, 10) << (m->ready ? "ready    " : "not ready") << "  " << m->interactions << "/"
            << m->capacity << " interactions" << (m->reason ? "  " + kv_text(m->reason.get()) : "") << "\n";
      }
      return out.str();
    }
    case M::EventPong: return "pong (server time " + time_text(e.body.AsEventPong()->server_time_us) + ")\n";
    case M::EventClientRegistered: {
      const auto* r = e.body.AsEventClientRegistered();
      return "registered with " + or_dash(r->server_name) + (r->node_id.empty() ? "" : " (node " + r->node_id + ")") + "\n";
    }
    default: return "";
  }
}

// Key-value lists as plain objects ({"pairs":[{"key":"why","string_value":"lunch"}]} → {"why":"lunch"})
// for people; --json keeps the wire's shape.
void flatten_kv_lists(nlohmann::json& j) {
  if (j.is_array()) {
    for (auto& item : j) flatten_kv_lists(item);
    return;
  }
  if (!j.is_object()) return;
  if (j.size() == 1 && j.contains("pairs") && j["pairs"].is_array()) {
    nlohmann::json flat = nlohmann::json::object();
    for (auto& pair : j["pairs"]) {
      if (!pair.is_object() || !pair.contains("key")) return;
      nlohmann::json value = pair.value("int_value", 0);
      for (const char* k : {"string_value", "binary_value", "list_value"}) {
        if (pair.contains(k)) value = pair[k];
      }
      flatten_kv_lists(value);
      flat[pair["key"].get<std::string>()] = value;
    }
    j = std::move(flat);
    return;
  }
  for (auto& [key, value] : j.items()) flatten_kv_lists(value);
}

}  // namespace

std::string kv_text(const proto::KvListT* list) {
  if (!list) return "";
  std::string out;
  for (const auto& p : list->pairs) {
    if (!out.empty()) out += ", ";
    out += p->key + "=";
    if (!p->string_value.empty()) {
      out += p->string_value;
    } else if (!p->binary_value.empty()) {
      out += "<" + std::to_string(p->binary_value.size()) + " bytes>";
    } else if (p->list_value) {
      out += "{" + kv_text(p->list_value.get()) + "}";
    } else {
      out += std::to_string(p->int_value);
    }
  }
  return out;
}

std::string interaction_table(const std::vector<std::unique_ptr<proto::InteractionInfoT>>& interactions) {
  std::ostringstream out;
  out << column("ID", 22) << column("STATE", 11) << column("MEDIA", 7) << column("PRI", 4) << column("WHERE", 20)
      << column("AGENT", 10) << "SUBMITTED\n";
  for (const auto& i : interactions) {
    out << column(i->interaction_id, 22) << column(state_name(i->state), 11) << column(or_dash(i->media_type), 7)
        << column(std::to_string(i->priority), 4) << column(where(*i), 20) << column(or_dash(i->agent_id), 10)
        << time_text(i->submitted_at_us) << "\n";
  }
  out << interactions.size() << (interactions.size() == 1 ? " interaction\n" : " interactions\n");
  return out.str();
}

std::string interaction_details(const proto::InteractionInfoT& i) {
  std::ostringstream out;
  out << i.interaction_id << "\n"
      << "  state:     " << state_name(i.state) << "\n"
      << "  tenant:    " << or_dash(i.tenant_id) << "\n"
      << "  media:     " << or_dash(i.media_type) << (i.interaction_type.empty() ? "" : " (" + i.interaction_type + ")") << "\n"
      << "  priority:  " << i.priority << "\n"
      << "  where:     " << where(i) << "\n"
      << "  agent:     " << or_dash(i.agent_id) << (i.place_id.empty() ? "" : " at " + i.place_id) << "\n"
      << "  submitted: " << time_text(i.submitted_at_us) << "\n"
      << "  node:      " << or_dash(i.node_id) << "\n";
  if (i.locked) out << "  locked\n";
  if (!i.parent_id.empty()) out << "  parent:    " << i.parent_id << "\n";
  if (i.user_data && !i.user_data->pairs.empty()) out << "  user data: " << kv_text(i.user_data.get()) << "\n";
  return out.str();
}

int print_reply(const Reply& reply, const OutputOptions& options) {
  if (const proto::EventErrorT* error = reply.error()) {
    const char* name = proto::EnumNameErrorCode(static_cast<proto::ErrorCode>(error->code));
    if (options.json) {
      std::cout << wire::message_json(reply.payload).dump(2) << "\n";
    }
    std::cerr << "error " << error->code << (name && *name ? std::string(" (") + name + ")" : "") << ": " << error->text << "\n";
    return kExitRefused;
  }
  if (options.json) {
    std::cout << wire::message_json(reply.payload).dump(2) << "\n";
    return kExitOk;
  }
  std::string text = human(*reply.envelope);
  std::cout << (text.empty() ? wire::message_json(reply.payload).dump() + "\n" : text);
  return kExitOk;
}

int print_unreachable(const Error& error, const OutputOptions& options) {
  if (options.json) std::cout << nlohmann::json{{"type", "unreachable"}, {"text", error.text}}.dump(2) << "\n";
  std::cerr << "ixctl: " << error.text << "\n";
  return kExitUnreachable;
}

void print_event(const Reply& event, const OutputOptions& options) {
  nlohmann::json j = wire::message_json(event.payload);
  if (options.json) {
    std::cout << j.dump() << std::endl;
    return;
  }
  // "12:00:01.250Z pair-1-primary#42 EventPlacedInQueue p1-… queue=inbound-chat"
  std::string line;
  if (j.contains("header")) {
    const nlohmann::json& h = j["header"];
    line = time_text(h.value("timestamp_us", int64_t{0})) + " " + h.value("node_id", "") + "#" +
           std::to_string(h.value("seq", uint64_t{0})) + " ";
    j.erase("header");
  }
  flatten_kv_lists(j);
  line += j.value("type", "");
  j.erase("type");
  j.erase("ref_id");
  j.erase("client_id");
  for (const char* key : {"interaction_id", "agent_id"}) {
    if (j.contains(key) && j[key].is_string()) {
      line += " " + j[key].get<std::string>();
      j.erase(key);
    }
  }
  if (!j.empty()) line += " " + j.dump();
  std::cout << line << std::endl;
}

}  // namespace ix::tools
