#include "proxy/requests/snapshot_requests.h"

#include <algorithm>

#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/cluster_snapshot.h"
#include "proxy/route/fan_in.h"

namespace ix::proxy {

namespace {

Error not_accessible(const std::string& part, const std::string& why) {
  return wire::make_error(proto::ErrorCode::ClusterSnapshotNotAccessible, "snapshot part " + part + " is not accessible: " + why);
}

// The snapshot a page or release request names; replies the error (MissingAttribute, or
// InvalidAttribute for an ID this cluster did not issue) and returns nothing otherwise.
std::optional<ClusterSnapshotId> named_snapshot(RequestContext& ctx, const Call& call, const std::string& id, const char* what) {
  std::optional<ClusterSnapshotId> snapshot = decode_cluster_snapshot(id);
  if (!snapshot) {
    ctx.replies.reply_error(call, wire::make_error(id.empty() ? proto::ErrorCode::MissingAttribute : proto::ErrorCode::InvalidAttribute,
                                                   std::string(what) + ".snapshot_id \"" + id + "\" is not a snapshot ID this cluster issued"));
  }
  return snapshot;
}

constexpr size_t kSnapshotCursors = 64;  // per worker
constexpr uint32_t kMaxNodePage = 1000;   // the node's largest page

}  // namespace

void handle_take_snapshot(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestTakeSnapshot* r = envelope.body_as_RequestTakeSnapshot();
  Result<PairSet> pairs = tenant_pairs(*ctx.table, call.type, wire::str(r->tenant_id()));
  if (!pairs) return ctx.replies.reply_error(call, pairs.error());
  const std::string order = r->order() ? r->order()->str() : "";
  ctx.calls.ask_all(*pairs, request, ctx.upstream(call), [&ctx, table = ctx.table, call, order](std::vector<PairAnswer> answers) {
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
        if (std::optional<PairIndex> pair = table->owner_by_tag(part.node_snapshot_id)) {
          ctx.calls.ask(*pair, Outgoing::of(std::move(release)), 0, [](PairAnswer) {});
        }
      }
      const Error& e = failed->error;
      return ctx.replies.reply_error(call, Error{e.code, "node pair " + table->pair_id(failed->pair) + ": " + e.text});
    }
    proto::EventSnapshotTakenT reply_body;
    reply_body.snapshot_id = encode_cluster_snapshot({parts, order});
    reply_body.count = static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX));
    ctx.replies.result(call, reply_body);
  });
}

namespace {

struct PageRead {
  Call call;
  std::string id;
  uint32_t start = 0;
  uint32_t count = 0;
  std::unique_ptr<SnapshotCursor> cursor;
  InteractionList page;
};

void continue_page(RequestContext& ctx, std::shared_ptr<PageRead> read);

// A snapshot whose parts are all empty has nothing to page, but its ID may be made up or
// released: each part's node is asked for a page of it, so that such an ID answers 2006 like
// any other snapshot that is gone, and a snapshot that really is empty pages as empty.
void page_empty_snapshot(RequestContext& ctx, const Call& call, const std::string& id, uint32_t start,
                         const std::vector<SnapshotPart>& parts) {
  auto fan_in = FanIn<PairAnswer>::make(parts.size(), [&ctx, table = ctx.table, call, id, start, parts](std::vector<PairAnswer> answers) {
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].kind == PairAnswer::Kind::kReply && answers[i].envelope()->body_as_EventSnapshotPage()) continue;
      const std::string where = answers[i].pair < table->pair_count() ? "node pair " + table->pair_id(answers[i].pair) + ": " : "";
      return ctx.replies.reply_error(call, not_accessible(parts[i].node_snapshot_id, where + answers[i].error.text));
    }
    proto::EventSnapshotPageT page;
    page.snapshot_id = id;
    page.start = start;
    ctx.replies.result(call, page);
  });
  for (size_t i = 0; i < parts.size(); ++i) {
    std::optional<PairIndex> pair = ctx.table->owner_by_tag(parts[i].node_snapshot_id);
    if (!pair) {
      ctx.calls.defer([slot = fan_in->slot(i), n = ctx.table->pair_count()] { slot(PairAnswer::unreachable(n, "no node pair has its tag")); });
      continue;
    }
    proto::RequestSnapshotPageT page;
    page.snapshot_id = parts[i].node_snapshot_id;
    page.start = 0;
    page.count = 1;
    ctx.calls.ask(*pair, Outgoing::of(std::move(page)), ctx.upstream(call), fan_in->slot(i));
  }
}

}  // namespace

void handle_snapshot_page(RequestContext& ctx, const Call& call, const proto::Envelope& envelope) {
  const proto::RequestSnapshotPage* r = envelope.body_as_RequestSnapshotPage();
  const std::string id = wire::str(r->snapshot_id());
  const std::optional<ClusterSnapshotId> snapshot = named_snapshot(ctx, call, id, "RequestSnapshotPage");
  if (!snapshot) return;
  if (r->count() == 0 || r->count() > kMaxNodePage) {
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestSnapshotPage.count " + std::to_string(r->count()) +
                                                                                      " is out of range 1.." + std::to_string(kMaxNodePage)));
  }
  const bool empty = std::all_of(snapshot->parts.begin(), snapshot->parts.end(), [](const SnapshotPart& p) { return p.count == 0; });
  if (empty) return page_empty_snapshot(ctx, call, id, r->start(), snapshot->parts);
  auto read = std::make_shared<PageRead>(PageRead{call, id, r->start(), r->count(), nullptr, {}});
  // The cached cursor when it has not gone past this page's start (reading on is cheaper than
  // starting over); a new one otherwise.
  auto cached = std::find_if(ctx.snapshot_cursors.begin(), ctx.snapshot_cursors.end(), [&](const auto& c) { return c.first == id; });
  if (cached != ctx.snapshot_cursors.end()) {
    if (cached->second->position() <= read->start) read->cursor = std::move(cached->second);
    ctx.snapshot_cursors.erase(cached);
  }
  if (!read->cursor) {
    Result<query::Order> order = query::Order::parse(snapshot->order);
    if (!order) return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "snapshot order: " + order.error().text));
    read->cursor = std::make_unique<SnapshotCursor>(std::move(snapshot->parts), std::move(*order));
  }
  continue_page(ctx, std::move(read));
}

namespace {

void continue_page(RequestContext& ctx, std::shared_ptr<PageRead> read) {
  SnapshotCursor& cursor = *read->cursor;
  if (cursor.position() < read->start) cursor.take(read->start - cursor.position());  // passed over
  if (cursor.position() >= read->start) {
    for (auto& info : cursor.take(read->count - read->page.size())) read->page.push_back(std::move(info));
  }
  const bool skipping = cursor.position() < read->start;
  if (cursor.finished() || (!skipping && read->page.size() == read->count)) {
    proto::EventSnapshotPageT page;
    page.snapshot_id = read->id;
    page.start = read->start;
    page.interactions = std::move(read->page);
    ctx.replies.result(read->call, page);
    ctx.snapshot_cursors.emplace_back(read->id, std::move(read->cursor));
    if (ctx.snapshot_cursors.size() > kSnapshotCursors) ctx.snapshot_cursors.pop_front();
    return;
  }
  // The merge needs the next chunk of some parts: read them all at once. Passing over pages
  // reads the node's largest pages; a page being filled reads about its own size per part.
  const uint32_t chunk = skipping ? kMaxNodePage : std::clamp<uint32_t>(read->count, 100, kMaxNodePage);
  const std::vector<PartRange> wanted = cursor.wanted(chunk);
  // One slot per range; a part whose tag names no pair is answered as unreachable.
  auto fan_in = FanIn<PairAnswer>::make(wanted.size(), [&ctx, table = ctx.table, read, wanted](std::vector<PairAnswer> answers) {
    std::optional<Error> error;
    for (size_t i = 0; i < answers.size(); ++i) {
      const PairAnswer& answer = answers[i];
      const PartRange& range = wanted[i];
      const proto::EventSnapshotPage* page = answer.kind == PairAnswer::Kind::kReply ? answer.envelope()->body_as_EventSnapshotPage() : nullptr;
      if (page) {
        InteractionList live;
        if (page->interactions()) {
          for (const proto::InteractionInfo* info : *page->interactions()) live.emplace_back(info->UnPack());
        }
        read->cursor->fill(range.part, range.count, std::move(live));
      } else if (!error) {
        const std::string where = answer.pair < table->pair_count() ? "node pair " + table->pair_id(answer.pair) + ": " : "";
        error = not_accessible(read->cursor->parts()[range.part].node_snapshot_id, where + answer.error.text);
      }
    }
    if (error) return ctx.replies.reply_error(read->call, *error);  // the cursor is dropped with `read`
    continue_page(ctx, read);
  });
  for (size_t i = 0; i < wanted.size(); ++i) {
    const PartRange& range = wanted[i];
    const SnapshotPart& part = cursor.parts()[range.part];
    std::optional<PairIndex> pair = ctx.table->owner_by_tag(part.node_snapshot_id);
    if (!pair) {
      ctx.calls.defer([slot = fan_in->slot(i), n = ctx.table->pair_count()] { slot(PairAnswer::unreachable(n, "no node pair has its tag")); });
      continue;
    }
    proto::RequestSnapshotPageT page;
    page.snapshot_id = part.node_snapshot_id;
    page.start = range.start;
    page.count = range.count;
    ctx.calls.ask(*pair, Outgoing::of(std::move(page)), ctx.upstream(read->call), fan_in->slot(i));
  }
}

}  // namespace

void handle_release_snapshot(RequestContext& ctx, const Call& call, const proto::Envelope& envelope) {
  const proto::RequestReleaseSnapshot* r = envelope.body_as_RequestReleaseSnapshot();
  const std::string id = wire::str(r->snapshot_id());
  const std::optional<ClusterSnapshotId> snapshot = named_snapshot(ctx, call, id, "RequestReleaseSnapshot");
  if (!snapshot) return;
  std::erase_if(ctx.snapshot_cursors, [&](const auto& c) { return c.first == id; });
  const std::vector<SnapshotPart>& parts = snapshot->parts;
  auto fan_in = FanIn<PairAnswer>::make(parts.size(), [&ctx, call, parts](std::vector<PairAnswer> answers) {
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].kind != PairAnswer::Kind::kReply) return ctx.replies.reply_error(call, not_accessible(parts[i].node_snapshot_id, answers[i].error.text));
    }
    ctx.replies.ack(call);
  });
  for (size_t i = 0; i < parts.size(); ++i) {
    std::optional<PairIndex> pair = ctx.table->owner_by_tag(parts[i].node_snapshot_id);
    if (!pair) {
      ctx.calls.defer([slot = fan_in->slot(i), n = ctx.table->pair_count()] { slot(PairAnswer::unreachable(n, "no node pair has its tag")); });
      continue;
    }
    proto::RequestReleaseSnapshotT release;
    release.snapshot_id = parts[i].node_snapshot_id;
    ctx.calls.ask(*pair, Outgoing::of(std::move(release)), ctx.upstream(call), fan_in->slot(i));
  }
}

}  // namespace ix::proxy
