// ProxyWorker: snapshots across pairs (proxy/route/cluster_snapshot.h). A snapshot is taken on
// every pair serving the tenant; its ID lists the parts, so any proxy can page or release it.
// A part whose pair cannot be reached, or whose node no longer has it, is 2006.
#include <spdlog/spdlog.h>

#include "protocol/log.h"
#include "proxy/route/cluster_snapshot.h"
#include "proxy/server/proxy_worker.h"

namespace ix::proxy {

namespace {

Error not_accessible(const std::string& part, const std::string& why) {
  return wire::make_error(proto::ErrorCode::ClusterSnapshotNotAccessible, "snapshot part " + part + " is not accessible: " + why);
}

}  // namespace

void ProxyWorker::handle_take_snapshot(const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestTakeSnapshot* r = envelope.body_as_RequestTakeSnapshot();
  const std::string tenant = r->tenant_id() ? r->tenant_id()->str() : "";
  if (tenant.empty()) {
    return reply_error(call, wire::make_error(proto::ErrorCode::MissingAttribute,
                                              "RequestTakeSnapshot.tenant_id is required to route the request"));
  }
  const PairSet pairs = table_->pairs_for_tenant(tenant);
  if (pairs.empty()) {
    return reply_error(call, wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, "no node pair serves tenant \"" + tenant + "\""));
  }
  ask_all(pairs, request, upstream_client(call.session_id, call.client_id), [this, call](std::vector<PairAnswer> answers) {
    std::sort(answers.begin(), answers.end(), [](const PairAnswer& a, const PairAnswer& b) { return a.pair < b.pair; });
    std::vector<SnapshotPart> parts;
    const PairAnswer* failed = nullptr;
    uint64_t total = 0;
    for (const PairAnswer& a : answers) {
      const proto::EventSnapshotTaken* taken = a.kind == PairAnswer::Kind::kReply ? a.envelope()->body_as_EventSnapshotTaken() : nullptr;
      if (!taken) {
        if (!failed) failed = &a;
        continue;
      }
      parts.push_back({taken->snapshot_id()->str(), taken->count()});
      total += taken->count();
    }
    if (failed) {
      // All or nothing: release what was taken.
      for (const SnapshotPart& part : parts) {
        proto::RequestReleaseSnapshotT release;
        release.snapshot_id = part.node_snapshot_id;
        if (std::optional<PairIndex> pair = table_->owner_by_tag(part.node_snapshot_id)) {
          ask(*pair, Outgoing::of(std::move(release)), 0, [](PairAnswer) {});
        }
      }
      const Error& e = failed->error;
      return reply_error(call, Error{e.code, "node pair " + table_->pair_id(failed->pair) + ": " + e.text});
    }
    proto::EventSnapshotTakenT reply_body;
    reply_body.snapshot_id = encode_cluster_snapshot(parts);
    reply_body.count = static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX));
    reply(call, wire::encode_frame(call.ref_id, call.client_id, reply_body));
    finish(call, Outcome::kOk);
  });
}

void ProxyWorker::handle_snapshot_page(const Call& call, const proto::Envelope& envelope) {
  const proto::RequestSnapshotPage* r = envelope.body_as_RequestSnapshotPage();
  const std::string id = r->snapshot_id() ? r->snapshot_id()->str() : "";
  std::optional<std::vector<SnapshotPart>> parts = decode_cluster_snapshot(id);
  if (!parts) {
    return reply_error(call, wire::make_error(id.empty() ? proto::ErrorCode::MissingAttribute : proto::ErrorCode::InvalidAttribute,
                                              "RequestSnapshotPage.snapshot_id \"" + id + "\" is not a snapshot ID this cluster issued"));
  }
  if (r->count() == 0) {
    return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestSnapshotPage.count must be at least 1"));
  }
  struct Gather {
    std::vector<std::vector<std::unique_ptr<proto::InteractionInfoT>>> pieces;
    size_t outstanding;
    std::optional<Error> error;
  };
  const std::vector<PartRange> ranges = page_ranges(*parts, r->start(), r->count());
  auto gather = std::make_shared<Gather>();
  gather->pieces.resize(ranges.size());
  gather->outstanding = ranges.size();
  const uint32_t start = r->start();
  auto complete = [this, call, gather, id, start] {
    if (gather->error) return reply_error(call, *gather->error);
    proto::EventSnapshotPageT page;
    page.snapshot_id = id;
    page.start = start;
    for (auto& piece : gather->pieces) {
      for (auto& info : piece) page.interactions.push_back(std::move(info));
    }
    reply(call, wire::encode_frame(call.ref_id, call.client_id, page));
    finish(call, Outcome::kOk);
  };
  if (ranges.empty()) return complete();
  for (size_t i = 0; i < ranges.size(); ++i) {
    const SnapshotPart& part = (*parts)[ranges[i].part];
    auto done = [this, gather, i, part, complete](PairAnswer answer) {
      const proto::EventSnapshotPage* page = answer.kind == PairAnswer::Kind::kReply ? answer.envelope()->body_as_EventSnapshotPage() : nullptr;
      if (page && page->interactions()) {
        for (const proto::InteractionInfo* info : *page->interactions()) gather->pieces[i].emplace_back(info->UnPack());
      } else if (!page && !gather->error) {
        gather->error = not_accessible(part.node_snapshot_id, "node pair " + table_->pair_id(answer.pair) + ": " + answer.error.text);
      }
      if (--gather->outstanding == 0) complete();
    };
    std::optional<PairIndex> pair = table_->owner_by_tag(part.node_snapshot_id);
    if (!pair) {
      gather->error = not_accessible(part.node_snapshot_id, "no node pair has its tag");
      if (--gather->outstanding == 0) complete();
      continue;
    }
    proto::RequestSnapshotPageT page;
    page.snapshot_id = part.node_snapshot_id;
    page.start = ranges[i].start;
    page.count = ranges[i].count;
    ask(*pair, Outgoing::of(std::move(page)), upstream_client(call.session_id, call.client_id), done);
  }
}

void ProxyWorker::handle_release_snapshot(const Call& call, const proto::Envelope& envelope) {
  const proto::RequestReleaseSnapshot* r = envelope.body_as_RequestReleaseSnapshot();
  const std::string id = r->snapshot_id() ? r->snapshot_id()->str() : "";
  std::optional<std::vector<SnapshotPart>> parts = decode_cluster_snapshot(id);
  if (!parts) {
    return reply_error(call, wire::make_error(id.empty() ? proto::ErrorCode::MissingAttribute : proto::ErrorCode::InvalidAttribute,
                                              "RequestReleaseSnapshot.snapshot_id \"" + id + "\" is not a snapshot ID this cluster issued"));
  }
  struct Gather {
    size_t outstanding;
    std::optional<Error> error;
  };
  auto gather = std::make_shared<Gather>(Gather{parts->size(), std::nullopt});
  auto one_done = [this, call, gather](const std::string& part, const PairAnswer* answer) {
    if (!answer || answer->kind != PairAnswer::Kind::kReply) {
      if (!gather->error) gather->error = not_accessible(part, answer ? answer->error.text : "no node pair has its tag");
    }
    if (--gather->outstanding > 0) return;
    if (gather->error) return reply_error(call, *gather->error);
    reply(call, wire::encode_ack(call.ref_id, call.client_id));
    finish(call, Outcome::kOk);
  };
  for (const SnapshotPart& part : *parts) {
    std::optional<PairIndex> pair = table_->owner_by_tag(part.node_snapshot_id);
    if (!pair) {
      one_done(part.node_snapshot_id, nullptr);
      continue;
    }
    proto::RequestReleaseSnapshotT release;
    release.snapshot_id = part.node_snapshot_id;
    ask(*pair, Outgoing::of(std::move(release)), upstream_client(call.session_id, call.client_id),
        [one_done, id = part.node_snapshot_id](PairAnswer answer) { one_done(id, &answer); });
  }
}

}  // namespace ix::proxy
