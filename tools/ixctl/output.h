// How ixctl answers: human-readable text by default, the message as JSON with --json, and exit
// codes a script can branch on.
#pragma once

#include <string>

#include "protocol/result.h"
#include "tools/client/session.h"

namespace ix::tools {

// Exit codes of every ixctl client command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server answered with an error (code and text printed)
inline constexpr int kExitUnreachable = 2;  // cannot connect, connection lost, or no answer in time
inline constexpr int kExitUsage = 3;        // bad command line

struct OutputOptions {
  bool json = false;
};

// Prints a reply (stdout) or a refusal (stderr) and returns the exit code it stands for.
int print_reply(const Reply& reply, const OutputOptions& options);
// Prints why there is no reply and returns kExitUnreachable.
int print_unreachable(const Error& error, const OutputOptions& options);
// One line per event, for tail and the agent session.
void print_event(const Reply& event, const OutputOptions& options);

// "p1-00ab…  queued  chat  inbound-chat  …" tables and key: value blocks.
std::string interaction_table(const std::vector<std::unique_ptr<proto::InteractionInfoT>>& interactions);
std::string interaction_details(const proto::InteractionInfoT& interaction);
std::string kv_text(const proto::KvListT* list);

}  // namespace ix::tools
