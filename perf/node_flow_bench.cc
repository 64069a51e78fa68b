// Flows through a real ixnode, each timed on its own:
//   - reporting: the whole event log (two events per submit) streamed to one subscriber;
//   - snapshot: take a snapshot of 10,000 interactions and page through it (1,000 per page);
//   - delivery: pull -> deliver -> accept -> stop round trips, one after another.
//
//   node_flow_bench IXNODE [interactions=10000] [cycles=2000]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "protocol/wire/kv.h"
#include "tests/support/process.h"
#include "tests/support/protocol_client.h"

namespace {

using namespace ix;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string config(const uint16_t p[4]) {
  return "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n[[node-pairs]]\nid = \"bench\"\ntag = \"b1\"\n"
         "tenants = [\"101\"]\n[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = " + std::to_string(p[0]) +
         "\nadmin-port = " + std::to_string(p[1]) + "\n[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(p[2]) + "\nadmin-port = " + std::to_string(p[3]) +
         "\n[node-pairs.storage]\nsqlite-path = \"bench.db\"\n[node-pairs.settings]\nmax-interactions-per-snapshot = 100000\n"
         "[[queues]]\nid = \"inbound\"\ntenant = \"101\"\n[[queues]]\nid = \"work\"\ntenant = \"101\"\n";
}

std::unique_ptr<test::ProtocolClient> connect(test::TestLoop& loop, uint16_t port, proto::ClientType type) {
  for (int attempt = 0; attempt < 400; ++attempt) {
    auto c = std::make_unique<test::ProtocolClient>(loop, port);
    if (!c->closed()) {
      auto reply = c->register_as(type);
      if (reply && reply->body.AsEventClientRegistered() &&
          reply->body.AsEventClientRegistered()->role == proto::ServerRole::Primary) {
        return c;
      }
    }
    loop.run_for(25);
  }
  std::fprintf(stderr, "ixnode did not become primary\n");
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: node_flow_bench IXNODE [interactions] [cycles]\n");
    return 2;
  }
  const int interactions = argc > 2 ? std::atoi(argv[2]) : 10'000;
  const int cycles = argc > 3 ? std::atoi(argv[3]) : 2'000;
  auto dir = std::filesystem::temp_directory_path() / ("ix-flow-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  test::TestLoop loop;
  uint16_t ports[4];
  const std::vector<uint16_t> free_ports = test::unused_ports(loop.get(), std::size(ports));
  std::copy(free_ports.begin(), free_ports.end(), std::begin(ports));
  std::ofstream(dir / "cluster.toml") << config(ports);
  test::Process node({argv[1], "--config", (dir / "cluster.toml").string(), "--node", "bench", "--role", "primary",
                      "--log-level", "warn"},
                     (dir / "ixnode.log").string());
  node.start();

  // Fill the node: `interactions` submits, pipelined.
  auto media = connect(loop, ports[0], proto::ClientType::MediaServer);
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.user_data = wire::kv_list({{"Subject", "benchmark"}, {"Score", 5}});
  uint64_t last = 0;
  for (int i = 0; i < interactions; ++i) last = media->send(submit);
  if (!media->wait_reply(last, 60'000)) return 1;

  // Reporting: the whole log to one subscriber.
  auto stats = connect(loop, ports[0], proto::ClientType::ReportingEngine);
  proto::RequestStartReportingT start;
  auto resume = std::make_unique<proto::ResumePositionT>();
  resume->node_id = "bench";
  resume->seq = 0;
  start.resume.push_back(std::move(resume));
  auto t0 = Clock::now();
  stats->call(start);
  stats->wait_for_events(static_cast<size_t>(2 * interactions), 120'000);
  const double reporting = static_cast<double>(stats->events.size()) / seconds_since(t0);

  // Snapshot of every interaction, paged through.
  auto router = connect(loop, ports[0], proto::ClientType::RoutingEngine);
  proto::RequestTakeSnapshotT take;
  take.condition = "queue = 'inbound'";
  t0 = Clock::now();
  auto taken = router->call(take, 0);
  const double take_seconds = seconds_since(t0);
  const std::string snapshot_id = taken->body.AsEventSnapshotTaken()->snapshot_id;
  const uint32_t count = taken->body.AsEventSnapshotTaken()->count;
  proto::RequestSnapshotPageT page;
  page.snapshot_id = snapshot_id;
  page.count = 1000;
  size_t paged = 0;
  for (page.start = 0; page.start < count; page.start += 1000) {
    paged += router->call(page)->body.AsEventSnapshotPage()->interactions.size();
  }
  const double snapshot_seconds = seconds_since(t0);

  // Delivery round trips.
  auto desktop = connect(loop, ports[0], proto::ClientType::AgentApplication);
  proto::RequestAgentLoginT login;
  login.tenant_id = "101";
  login.agent_id = "bench-agent";
  login.place_id = "bench-place";
  auto chat = std::make_unique<proto::MediaCapacityT>();
  chat->media_type = "chat";
  chat->capacity = 10;
  login.media.push_back(std::move(chat));
  desktop->call(login);
  proto::RequestAgentReadyT ready;
  ready.agent_id = "bench-agent";
  desktop->call(ready);
  proto::RequestPullT pull;
  pull.queue = "inbound";
  t0 = Clock::now();
  int done = 0;
  for (; done < cycles; ++done) {
    auto pulled = router->call(pull);
    if (!pulled || !pulled->body.AsEventPulled() || pulled->body.AsEventPulled()->interactions.empty()) break;
    const std::string id = pulled->body.AsEventPulled()->interactions[0]->interaction_id;
    proto::RequestDeliverT deliver;
    deliver.interaction_id = id;
    deliver.agent_id = "bench-agent";
    router->call(deliver);
    proto::RequestAcceptT accept;
    accept.interaction_id = id;
    accept.agent_id = "bench-agent";
    desktop->call(accept);
    proto::RequestStopProcessingT stop;
    stop.interaction_id = id;
    stop.agent_id = "bench-agent";
    desktop->call(stop);
  }
  const double cycle_rate = done / seconds_since(t0);

  std::printf("interactions=%d\n", interactions);
  std::printf("reporting, event log to one subscriber   %10.0f events/s (%zu events)\n", reporting, stats->events.size());
  std::printf("snapshot of %u interactions: take %.1f ms, take + page all (%zu) %.1f ms\n", count, take_seconds * 1000,
              paged, snapshot_seconds * 1000);
  std::printf("pull -> deliver -> accept -> stop        %10.0f cycles/s (%d cycles, 4 durable round trips each)\n",
              cycle_rate, done);
  media.reset();
  stats.reset();
  router.reset();
  desktop.reset();
  node.kill(SIGTERM);
  loop.close();
  std::filesystem::remove_all(dir);
  return 0;
}
