// ixctl against a real cluster (two node pairs with primary and backup, proxy-1): every
// subcommand's output and exit code, including the error paths a user meets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"

namespace ix::test {
namespace {

class IxctlTest : public ClusterFixture {
 protected:
  // ixctl with the given arguments, talking to `port` (proxy-1 unless told otherwise).
  CommandResult ixctl(std::vector<std::string> args, uint16_t port = 0) {
    std::vector<std::string> argv{IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(port ? port : proxy_ports_[0].first),
                                  "--timeout", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  nlohmann::json ixctl_json(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult r = ixctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  std::string submit(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"submit", "--tenant", "101", "--media", "chat", "--queue", "inbound"};
    args.insert(args.end(), extra.begin(), extra.end());
    nlohmann::json j = ixctl_json(args);
    EXPECT_EQ(j.value("type", ""), "EventSubmitted") << j.dump();
    return j.value("interaction_id", "");
  }
};

TEST_F(IxctlTest, SubmitGetChangeFindAndStopThroughAProxy) {
  start_cluster();
  CommandResult submitted = ixctl({"submit", "--tenant", "101", "--media", "chat", "--queue", "inbound", "--priority", "5",
                                   "--data", "Subject=hello", "--data", "Score:=7"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_EQ(submitted.out.rfind("submitted p", 0), 0u) << submitted.out;
  const std::string id = submitted.out.substr(10, submitted.out.find(' ', 10) - 10);

  CommandResult got = ixctl({"get", id});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_NE(got.out.find("state:     queued"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("Subject=hello, Score=7"), std::string::npos) << got.out;

  EXPECT_EQ(ixctl({"set", id, "--set", "Subject=changed", "--delete", "Score"}).out, "ok\n");
  nlohmann::json props = ixctl_json({"get", id});
  EXPECT_EQ(props["interaction"]["user_data"]["pairs"].size(), 1u) << props.dump();
  EXPECT_EQ(props["interaction"]["user_data"]["pairs"][0].value("string_value", ""), "changed");

  const std::string low = submit({"--priority", "1"});
  nlohmann::json found = ixctl_json({"find", "--tenant", "101", "--order", "priority desc", "--limit", "2"});
  ASSERT_EQ(found["interactions"].size(), 2u) << found.dump();
  EXPECT_EQ(found["interactions"][0].value("interaction_id", ""), id);
  EXPECT_EQ(found["interactions"][1].value("interaction_id", ""), low);
  CommandResult table = ixctl({"find", "--tenant", "101", "--where", "priority > 3"});
  EXPECT_NE(table.out.find(id), std::string::npos);
  EXPECT_EQ(table.out.find(low), std::string::npos);
  EXPECT_NE(table.out.find("1 interaction\n"), std::string::npos) << table.out;

  EXPECT_EQ(ixctl({"lock", id, "--owner", "supervisor"}).exit_code, 0);
  EXPECT_EQ(ixctl({"unlock", id, "--owner", "supervisor"}).exit_code, 0);

  EXPECT_EQ(ixctl({"stop", id, "--reason", "why=test"}).out, "ok\n");
  CommandResult gone = ixctl({"get", id});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("error 301 (UnknownInteraction)"), std::string::npos) << gone.err;
}

TEST_F(IxctlTest, PullPlaceSnapshotAndWorkbin) {
  start_cluster();
  const std::string a = submit({"--priority", "2"}), b = submit({"--priority", "1"});

  nlohmann::json snapshot = ixctl_json({"snapshot", "take", "--tenant", "101", "--view", "all-inbound"});
  ASSERT_EQ(snapshot.value("count", 0), 2) << snapshot.dump();
  const std::string snapshot_id = snapshot.value("snapshot_id", "");
  CommandResult page = ixctl({"snapshot", "page", snapshot_id, "--count", "10"});
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_NE(page.out.find(a), std::string::npos);
  EXPECT_NE(page.out.find(b), std::string::npos);
  EXPECT_EQ(ixctl({"snapshot", "release", snapshot_id}).out, "ok\n");
  CommandResult released = ixctl({"snapshot", "page", snapshot_id});
  EXPECT_EQ(released.exit_code, 1) << released.out;
  EXPECT_NE(released.err.find("error 2006"), std::string::npos) << released.err;

  // The two interactions sit on different pairs; only an order-aware view promises the higher
  // priority first across them (a plain view is drained pair by pair from a rotating start).
  nlohmann::json pulled = ixctl_json({"pull", "--tenant", "101", "--view", "ordered"});
  ASSERT_EQ(pulled["interactions"].size(), 1u) << pulled.dump();
  EXPECT_EQ(pulled["interactions"][0].value("interaction_id", ""), a) << "the higher priority first";
  Process watch({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "workbin", "--tenant", "101",
                 "--workbin", "drafts", "--owner-agent", "a1", "--watch", "30"},
                (dir_ / "watch.log").string());
  ASSERT_TRUE(watch.start());
  // The watch lists the workbin, then subscribes, and says nothing when subscribed (its listing
  // is not even flushed until the first event): the interaction goes in (and, while the watch
  // shows nothing, back to the queue) until the watch shows the change.
  ASSERT_TRUE(eventually([&] {
    EXPECT_EQ(ixctl({"place-in-workbin", a, "--workbin", "drafts", "--owner-agent", "a1"}).out, "ok\n");
    if (eventually([&] { return watch.log().find("EventWorkbinChanged") != std::string::npos; }, std::chrono::seconds(1))) return true;
    EXPECT_EQ(ixctl({"place-in-queue", a, "--queue", "inbound"}).out, "ok\n");
    return false;
  }, std::chrono::seconds(20))) << watch.log();
  watch.signal(SIGINT);
  EXPECT_EQ(watch.wait_for_exit(std::chrono::seconds(10)), 0);
  EXPECT_NE(watch.log().find("EventWorkbinChanged"), std::string::npos) << watch.log();
  EXPECT_NE(watch.log().find(a), std::string::npos) << watch.log();
  CommandResult workbin = ixctl({"workbin", "--tenant", "101", "--workbin", "drafts", "--owner-agent", "a1"});
  EXPECT_NE(workbin.out.find(a), std::string::npos) << workbin.out;
  EXPECT_EQ(ixctl({"place-in-queue", a, "--queue", "inbound"}).out, "ok\n");
  EXPECT_EQ(ixctl({"pull", "--tenant", "101", "--queue", "nowhere"}).exit_code, 1);

  // Delivery answers belong to the agent's own session: from another connection they are refused.
  CommandResult deliver = ixctl({"deliver", a, "--agent", "a1"});
  EXPECT_EQ(deliver.exit_code, 1);
  EXPECT_NE(deliver.err.find("a1"), std::string::npos) << deliver.err;
  for (const char* command : {"accept", "reject"}) {
    CommandResult r = ixctl({command, a, "--agent", "a1", "--ticket", "1"});
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.err.find("error "), std::string::npos) << command << ": " << r.err;
  }
  for (const char* command : {"transfer", "conference"}) {
    CommandResult r = ixctl({command, a, "--agent", "a1", "--to-agent", "a2"});
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.err.find("error "), std::string::npos) << command << ": " << r.err;
  }
  CommandResult leave = ixctl({"leave", a, "--agent", "a1"});
  EXPECT_EQ(leave.exit_code, 1);
  EXPECT_NE(leave.err.find("error "), std::string::npos) << leave.err;
}

TEST_F(IxctlTest, ExitCodesSayWhatWentWrong) {
  start_cluster();
  CommandResult disabled = ixctl({"submit", "--tenant", "101", "--media", "sms", "--queue", "inbound"});
  EXPECT_EQ(disabled.exit_code, 1);
  EXPECT_NE(disabled.err.find("error 2001 (ClusterNoServerForMedia)"), std::string::npos) << disabled.err;
  nlohmann::json refusal = nlohmann::json::parse(ixctl({"get", "p1-0000000000000999", "--json"}).out, nullptr, false);
  EXPECT_EQ(refusal.value("type", ""), "EventError");
  EXPECT_EQ(refusal.value("code", 0), 301) << refusal.dump();

  CommandResult nobody = ixctl({"get", "x"}, unused_port(loop_.get()));
  EXPECT_EQ(nobody.exit_code, 2);
  EXPECT_NE(nobody.err.find("cannot connect to 127.0.0.1:"), std::string::npos) << nobody.err;

  CommandResult missing = ixctl({"submit", "--tenant", "101"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("--media is required"), std::string::npos) << missing.err;
  CommandResult bad_data = ixctl({"submit", "--tenant", "101", "--media", "chat", "--queue", "inbound", "--data", "oops"});
  EXPECT_EQ(bad_data.exit_code, 3);
  EXPECT_NE(bad_data.err.find("\"oops\" is not key=value"), std::string::npos) << bad_data.err;

  CommandResult help = ixctl({"pull", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--view"), std::string::npos);

  // Straight to a node: ping is answered there (a proxy is not a server and says 2000).
  CommandResult pong = ixctl({"ping"}, node_ports_[0][0].first);
  EXPECT_EQ(pong.exit_code, 0) << pong.err;
  EXPECT_EQ(pong.out.rfind("pong", 0), 0u) << pong.out;
  EXPECT_NE(ixctl({"ping"}).err.find("error 2000"), std::string::npos);
}

// A submit's request ID makes it one interaction however often and through whichever proxy it
// is sent; a --server list carries on through the next server when the first is not there.
TEST_F(IxctlTest, ASubmitWithARequestIdIsOneInteractionThroughEveryProxy) {
  start_cluster();
  start_proxy(1);
  const std::string first = submit({"--request-id", "order-77"});
  ASSERT_FALSE(first.empty());
  CommandResult again = ixctl({"submit", "--tenant", "101", "--media", "chat", "--queue", "inbound", "--request-id", "order-77",
                               "--json"},
                              proxy_ports_[1].first);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const nlohmann::json repeated = nlohmann::json::parse(again.out);
  EXPECT_EQ(repeated.value("interaction_id", ""), first) << again.out;
  EXPECT_TRUE(repeated.value("repeated", false)) << again.out;

  const std::string servers = "127.0.0.1:" + std::to_string(unused_port(loop_.get())) + ",127.0.0.1:" +
                              std::to_string(proxy_ports_[1].first);
  CommandResult through_second = run_command({IX_IXCTL, "--server", servers, "--timeout", "5", "submit", "--tenant", "101", "--media",
                                              "chat", "--queue", "inbound", "--json"});
  ASSERT_EQ(through_second.exit_code, 0) << through_second.err;
  const std::string second = nlohmann::json::parse(through_second.out).value("interaction_id", "");
  EXPECT_NE(second, first);
  nlohmann::json all = ixctl_json({"find", "--tenant", "101"});
  EXPECT_EQ(all["interactions"].size(), 2u) << all.dump();
}

// A server that takes the connection and never answers: every wait ends at its deadline with
// exit code 2 and a message; SIGTERM ends an agent session blocked in a call at once (its
// logout on the way out gets a short grace, not the whole timeout).
TEST_F(IxctlTest, EveryWaitEndsAtItsDeadlineOrOnSigterm) {
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(silent, 16), 0);  // connections complete in the backlog; nothing is ever read
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto started = std::chrono::steady_clock::now();
  CommandResult hung = run_command({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(ntohs(address.sin_port)), "--timeout", "1",
                                    "get", "x"});
  EXPECT_EQ(hung.exit_code, 2) << hung.err;
  EXPECT_NE(hung.err.find("no answer from 127.0.0.1:"), std::string::npos) << hung.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  ::close(silent);

  start_cluster();
  Process desktop({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "--timeout", "60", "agent", "login",
                   "--tenant", "101", "--agent", "a1", "--place", "place-a1", "--media", "chat:2", "--ready"},
                  (dir_ / "desktop.log").string());
  ASSERT_TRUE(desktop.start_with_input());
  ASSERT_TRUE(eventually([&] {
    return ixctl({"agent", "status", "--tenant", "101", "--agent", "a1"}).out.find("ready      0/2") != std::string::npos;
  })) << desktop.log();
  proxies_[0]->signal(SIGSTOP);  // from now on nothing the desktop asks is answered
  ASSERT_TRUE(desktop.write_input("status\n"));
  desktop.signal(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  const int code = desktop.wait_for_exit(std::chrono::seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5)) << desktop.log();
  EXPECT_EQ(code, 2) << desktop.log();
  EXPECT_NE(desktop.log().find("interrupted"), std::string::npos) << desktop.log();
  proxies_[0]->signal(SIGCONT);
}

TEST_F(IxctlTest, AgentSessionTakesCommandsAndShowsInvitations) {
  start_cluster();
  const std::string id = submit();
  // The desktop: logs in ready and stays logged in while its input is open.
  Process desktop({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "agent", "login", "--tenant",
                   "101", "--agent", "a1", "--place", "place-a1", "--media", "chat:2", "--ready"},
                  (dir_ / "desktop.log").string());
  ASSERT_TRUE(desktop.start_with_input());
  ASSERT_TRUE(eventually([&] {
    return ixctl({"agent", "status", "--tenant", "101", "--agent", "a1"}).out.find("ready      0/2") != std::string::npos;
  })) << desktop.log();
  nlohmann::json pulled = ixctl_json({"pull", "--tenant", "101", "--view", "all-inbound"});
  ASSERT_EQ(pulled["interactions"].size(), 1u);
  EXPECT_EQ(ixctl({"deliver", id, "--agent", "a1", "--place", "place-a1"}).out, "ok\n");
  ASSERT_TRUE(eventually([&] { return desktop.log().find("EventInvite") != std::string::npos; })) << desktop.log();
  // The session answers one command after the other, so they can be typed at once.
  ASSERT_TRUE(desktop.write_input("status\nnot-ready chat why=lunch\nstatus\nlogout\n"));
  EXPECT_EQ(desktop.wait_for_exit(std::chrono::seconds(20)), 0) << desktop.log();
  const std::string log = desktop.log();
  EXPECT_NE(log.find("EventInvite"), std::string::npos) << log;
  EXPECT_NE(log.find(id), std::string::npos) << log;
  EXPECT_NE(log.find("chat      ready      0/2 interactions"), std::string::npos) << log;
  EXPECT_NE(log.find("chat      not ready  0/2 interactions  why=lunch"), std::string::npos) << log;
  CommandResult after = ixctl({"agent", "status", "--tenant", "101", "--agent", "a1"});
  EXPECT_NE(after.out.find("logged out"), std::string::npos) << after.out;
}

TEST_F(IxctlTest, TailPrintsTheMergedStreamWithFiltersAndResume) {
  start_cluster();
  const std::string first = submit(), second = submit();
  // From the start of both pairs' logs: two interactions, two events each (submitted, placed).
  CommandResult all = ixctl({"tail", "--json", "--count", "4", "--resume", "pair-1:0", "--resume", "pair-2:0", "--for", "10"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<nlohmann::json> events;
  for (size_t at = 0, eol; (eol = all.out.find('\n', at)) != std::string::npos; at = eol + 1) {
    events.push_back(nlohmann::json::parse(all.out.substr(at, eol - at)));
  }
  ASSERT_EQ(events.size(), 4u) << all.out;
  for (const auto& e : events) EXPECT_TRUE(e.contains("header")) << e.dump();

  CommandResult placed = ixctl({"tail", "--type", "EventPlacedInQueue", "--match", second, "--count", "1",
                               "--resume", "pair-1:0", "--resume", "pair-2:0", "--for", "10"});
  EXPECT_EQ(placed.exit_code, 0);
  EXPECT_NE(placed.out.find("EventPlacedInQueue " + second), std::string::npos) << placed.out;
  EXPECT_EQ(placed.out.find(first), std::string::npos) << placed.out;

  // Live: nothing old, the next submission's events as they happen.
  Process live({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "tail", "--class", "interaction",
                "--count", "2", "--for", "15"},
               (dir_ / "tail.log").string());
  ASSERT_TRUE(live.start());
  // ixctl tail says nothing when its subscription is in place, so submissions go on (one a
  // second) until it has shown one; it prints that interaction's two events and exits.
  std::vector<std::string> live_ids;
  ASSERT_TRUE(eventually([&] {
    live_ids.push_back(submit());
    return eventually([&] { return !live.running(); }, std::chrono::seconds(1));
  }, std::chrono::seconds(15))) << live.log();
  EXPECT_EQ(live.wait_for_exit(std::chrono::seconds(5)), 0);
  EXPECT_NE(live.log().find("EventInteractionSubmitted"), std::string::npos) << live.log();
  const bool placed_live = std::any_of(live_ids.begin(), live_ids.end(), [&](const std::string& id) {
    return live.log().find("EventPlacedInQueue " + id) != std::string::npos;
  });
  EXPECT_TRUE(placed_live) << live.log();
  EXPECT_EQ(live.log().find(first), std::string::npos) << live.log();
  EXPECT_EQ(live.log().find(second), std::string::npos) << live.log();

  CommandResult bad = ixctl({"tail", "--resume", "pair-1"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("NODE:SEQ"), std::string::npos) << bad.err;
}

TEST_F(IxctlTest, StatusShowsPairsProxiesQueuesAndDegradation) {
  start_cluster();
  start_proxy(1);
  submit();
  const std::string config = (dir_ / "cluster.toml").string();
  CommandResult healthy = run_command({IX_IXCTL, "status", "--config", config});
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_NE(healthy.out.find("pair-1: served by its primary"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("pair-2: served by its primary"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("queues: inbound=1"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("proxy-1 127.0.0.1:" + std::to_string(proxy_ports_[0].first) + "  ready"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("proxy-2 127.0.0.1:" + std::to_string(proxy_ports_[1].first) + "  ready"), std::string::npos) << healthy.out;

  proxies_[1]->kill(SIGTERM);
  nodes_[1][0]->kill(SIGKILL);
  nodes_[1][1]->kill(SIGKILL);
  CommandResult degraded = run_command({IX_IXCTL, "status", "--config", config, "--json"});
  EXPECT_EQ(degraded.exit_code, 1);
  nlohmann::json s = nlohmann::json::parse(degraded.out);
  EXPECT_EQ(s["pairs"][1].value("serving", "x"), "");
  EXPECT_EQ(s["pairs"][1]["nodes"][0].value("state", ""), "down");
  EXPECT_EQ(s["pairs"][0].value("serving", ""), "primary");
  EXPECT_EQ(s["proxies"][1].value("state", ""), "down");
}

}  // namespace
}  // namespace ix::test
