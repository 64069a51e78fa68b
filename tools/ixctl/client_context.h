// What every ixctl client command shares: where to connect, how to answer, and the one-request
// exchange (connect, register, send, print the reply, map it to an exit code).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tools/client/blocking_client.h"
#include "tools/ixctl/output.h"

namespace ix::tools {

struct ClientContext {
  std::string server = "127.0.0.1:7001";  // a proxy (or a node); several, comma-separated, are tried in turn
  std::string client_type;                // --as: overrides the command's natural client type
  std::string ca_file;                    // TLS: trust this CA (and speak TLS)
  double timeout_s = 10;
  OutputOptions output;
  int exit_code = kExitOk;

  // The --server list, in order.
  std::vector<std::string> servers() const;
  // Session options for a command whose natural client type is `type`, to the `index`th server
  // (modulo their number). Throws CLI::ValidationError for a bad --server, --as or --ca.
  Session::Options session_options(proto::ClientType type, const std::string& name = "ixctl", size_t index = 0) const;
  uint64_t timeout_ms() const { return static_cast<uint64_t>(timeout_s * 1000); }
};

// Adds --server, --as, --ca, --timeout and --json to the top-level app (usable after any
// subcommand too).
void add_client_options(CLI::App& app, ClientContext& context);

// Opens a session with the first server of --server that registers it, starting at `first`:
// on failure prints why and returns the exit code in `exit_code`.
std::unique_ptr<BlockingClient> open_client(ClientContext& context, proto::ClientType type, size_t first = 0);
// The same without printing: the client, or the last server's refusal (a Reply) or failure.
struct OpenAttempt {
  std::unique_ptr<BlockingClient> client;
  std::optional<Reply> refusal;
  Error failure;
};
OpenAttempt try_open_client(ClientContext& context, proto::ClientType type, size_t first = 0);

// One request, its reply printed; returns the exit code.
template <class Native>
int exchange(ClientContext& context, proto::ClientType type, const Native& message, uint64_t extra_timeout_ms = 0) {
  std::unique_ptr<BlockingClient> client = open_client(context, type);
  if (!client) return context.exit_code;
  Result<Reply> reply = client->call(message, context.timeout_ms() + extra_timeout_ms);
  if (!reply) return print_unreachable(reply.error(), context.output);
  return print_reply(*reply, context.output);
}

// "key=value" (a string) or "key:=123" (an integer) into a key-value list. Throws
// CLI::ValidationError naming the bad argument.
std::unique_ptr<proto::KvListT> parse_kv(const std::vector<std::string>& arguments, const std::string& option);
// "chat" or "chat:3" (media type with capacity).
std::unique_ptr<proto::MediaCapacityT> parse_media(const std::string& argument);

}  // namespace ix::tools
