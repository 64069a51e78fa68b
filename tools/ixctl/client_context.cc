#include "tools/ixctl/client_context.h"

#include <algorithm>
#include <charconv>
#include <iostream>

#include "protocol/net/tls_context.h"
#include "protocol/wire/kv.h"

namespace ix::tools {

namespace {

std::optional<proto::ClientType> client_type_named(const std::string& name) {
  using C = proto::ClientType;
  if (name == "agent") return C::AgentApplication;
  if (name == "media") return C::MediaServer;
  if (name == "routing") return C::RoutingEngine;
  if (name == "reporting") return C::ReportingEngine;
  return std::nullopt;
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::vector<std::string> ClientContext::servers() const {
  std::vector<std::string> out;
  for (size_t start = 0; start <= server.size();) {
    const size_t comma = std::min(server.find(',', start), server.size());
    out.push_back(server.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Session::Options ClientContext::session_options(proto::ClientType type, const std::string& name, size_t index) const {
  Session::Options options;
  const std::vector<std::string> list = servers();
  const std::string& chosen = list[index % list.size()];
  Result<net::Endpoint> endpoint = net::parse_endpoint(chosen);
  if (!endpoint) throw CLI::ValidationError("--server", "\"" + chosen + "\": " + endpoint.error().text);
  options.endpoint = *endpoint;
  options.client_type = type;
  if (!client_type.empty()) {
    std::optional<proto::ClientType> named = client_type_named(client_type);
    if (!named) throw CLI::ValidationError("--as", "\"" + client_type + "\" is not agent, media, routing or reporting");
    options.client_type = *named;
  }
  options.client_name = name;
  options.connect_timeout_ms = timeout_ms();
  options.request_timeout_ms = timeout_ms();
  if (!ca_file.empty()) {
    net::TlsOptions tls;
    tls.ca_file = ca_file;
    Result<std::shared_ptr<net::TlsContext>> context = net::TlsContext::create_client(tls);
    if (!context) throw CLI::ValidationError("--ca", context.error().text);
    options.tls = *context;
  }
  return options;
}

void add_client_options(CLI::App& app, ClientContext& context) {
  app.add_option("-s,--server", context.server, "host:port of a proxy or node; several, comma-separated: the first that answers (a submit retries on the others)")
      ->envname("IXCTL_SERVER")
      ->capture_default_str();
  app.add_option("--as", context.client_type, "register as this client type instead of the command's own")
      ->check(CLI::IsMember({"agent", "media", "routing", "reporting"}));
  app.add_option("--ca", context.ca_file, "speak TLS and trust this CA certificate (PEM)")->check(CLI::ExistingFile);
  app.add_option("--timeout", context.timeout_s, "seconds to wait for a connection and for each answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--json", context.output.json, "print the server's answers as JSON");
}

OpenAttempt try_open_client(ClientContext& context, proto::ClientType type, size_t first) {
  OpenAttempt attempt;
  const size_t count = context.servers().size();
  for (size_t i = 0; i < count && !BlockingClient::interrupted(); ++i) {
    auto client = std::make_unique<BlockingClient>(context.session_options(type, "ixctl", first + i));
    Result<Reply> registered = client->open();
    if (!registered) {
      attempt.failure = registered.error();
      continue;
    }
    if (registered->error()) {
      attempt.refusal = std::move(*registered);
      continue;
    }
    attempt.client = std::move(client);
    attempt.refusal.reset();
    return attempt;
  }
  return attempt;
}

std::unique_ptr<BlockingClient> open_client(ClientContext& context, proto::ClientType type, size_t first) {
  OpenAttempt attempt = try_open_client(context, type, first);
  if (attempt.client) return std::move(attempt.client);
  context.exit_code = attempt.refusal ? print_reply(*attempt.refusal, context.output) : print_unreachable(attempt.failure, context.output);
  return nullptr;
}

std::unique_ptr<proto::KvListT> parse_kv(const std::vector<std::string>& arguments, const std::string& option) {
  if (arguments.empty()) return nullptr;
  auto list = std::make_unique<proto::KvListT>();
  for (const std::string& argument : arguments) {
    const size_t eq = argument.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CLI::ValidationError(option, "\"" + argument + "\" is not key=value (or key:=integer)");
    }
    if (argument[eq - 1] == ':') {
      std::optional<int64_t> value = parse_int(std::string_view(argument).substr(eq + 1));
      if (!value || eq == 1) throw CLI::ValidationError(option, "\"" + argument + "\": key:= takes an integer");
      wire::kv_set(*list, {argument.substr(0, eq - 1), *value});
    } else {
      wire::kv_set(*list, {argument.substr(0, eq), argument.substr(eq + 1)});
    }
  }
  return list;
}

std::unique_ptr<proto::MediaCapacityT> parse_media(const std::string& argument) {
  auto media = std::make_unique<proto::MediaCapacityT>();
  const size_t colon = argument.find(':');
  media->media_type = argument.substr(0, colon);
  if (colon != std::string::npos) {
    std::optional<int64_t> capacity = parse_int(std::string_view(argument).substr(colon + 1));
    if (!capacity || *capacity < 1) throw CLI::ValidationError("--media", "\"" + argument + "\": capacity must be a positive integer");
    media->capacity = static_cast<int>(*capacity);
  }
  if (media->media_type.empty()) throw CLI::ValidationError("--media", "\"" + argument + "\" names no media type");
  return media;
}

}  // namespace ix::tools
