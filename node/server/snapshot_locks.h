// SnapshotLocks: the locks on interactions and the snapshots (a fixed list of interaction IDs,
// paged through later) that client sessions hold. A lock hides a queued interaction from pulls
// and moves; a locking snapshot locks what it lists until it is released. Both belong to the
// session that made them and end when it disconnects (a proxy's session: when the grace after it
// closed passes without its reconnection, node/server/proxy_session_holds.h); they are not
// persisted, so a failover releases them too.
//
// Snapshot IDs are "<tag>-snap-<start token>-<n>": the tag routes them to the pair, and the
// start token — 12 random hex digits drawn when this primary started serving — keeps a new
// primary (after a failover or a restart) from issuing an ID an earlier one issued, so a client
// holding an old snapshot ID gets UnknownSnapshot, never somebody else's snapshot.
// Owned by the ServiceContext; loop thread only.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/model/interaction_registry.h"
#include "node/server/client_session.h"
#include "protocol/random_token.h"

namespace ix::node {

class SnapshotLocks {
 public:
  struct Snapshot {
    const ClientSession* owner;
    std::vector<std::string> ids;
    std::vector<std::string> locked;
  };

  explicit SnapshotLocks(InteractionRegistry& interactions) : interactions_(interactions), start_token_(random_token()) {}

  // What this primary's snapshot IDs carry after "<tag>-snap-".
  const std::string& start_token() const { return start_token_; }

  void lock(Interaction& interaction, const ClientSession* owner) {
    interaction.locked = true;
    owner_[interaction.interaction_id] = owner;
  }
  // The session holding the interaction's lock (null when no session does).
  const ClientSession* owner(const std::string& interaction_id) const {
    auto it = owner_.find(interaction_id);
    return it == owner_.end() ? nullptr : it->second;
  }
  void unlock(Interaction& interaction) {
    interaction.locked = false;
    owner_.erase(interaction.interaction_id);
    for (auto& [id, snapshot] : snapshots_) std::erase(snapshot.locked, interaction.interaction_id);
  }

  // Records a snapshot of `selected` for `owner` (locking them when asked); returns its ID.
  std::string take(const ClientSession* owner, const std::vector<Interaction*>& selected, bool lock_them,
                   const std::string& tag) {
    Snapshot snapshot{owner, {}, {}};
    for (Interaction* i : selected) {
      snapshot.ids.push_back(i->interaction_id);
      if (lock_them) {
        lock(*i, owner);
        snapshot.locked.push_back(i->interaction_id);
      }
    }
    std::string id = tag + "-snap-" + start_token_ + "-" + std::to_string(++next_snapshot_);
    snapshots_.emplace(id, std::move(snapshot));
    return id;
  }
  const Snapshot* snapshot(const std::string& id) const {
    auto it = snapshots_.find(id);
    return it == snapshots_.end() ? nullptr : &it->second;
  }
  // Ends a snapshot and unlocks what it locked; false when there is no such snapshot.
  bool release(const std::string& id) {
    auto it = snapshots_.find(id);
    if (it == snapshots_.end()) return false;
    for (const std::string& locked : it->second.locked) {
      if (Interaction* i = interactions_.find(locked)) i->locked = false;
      owner_.erase(locked);
    }
    snapshots_.erase(it);
    return true;
  }
  // Every snapshot and lock of `from` belongs to `to` instead (a proxy's held session handed to
  // its reconnection, and back); nothing is released. Returns {locks, snapshots} moved.
  std::pair<size_t, size_t> move_session(const ClientSession* from, const ClientSession* to) {
    size_t locks = 0, snapshots = 0;
    for (auto& [id, snapshot] : snapshots_) {
      if (snapshot.owner != from) continue;
      snapshot.owner = to;
      ++snapshots;
    }
    for (auto& [id, owner] : owner_) {
      if (owner != from) continue;
      owner = to;
      ++locks;
    }
    return {locks, snapshots};
  }
  // Releases every snapshot and lock of a session (it disconnected).
  void release_session(const ClientSession* session) {
    std::vector<std::string> owned;
    for (const auto& [id, snapshot] : snapshots_) {
      if (snapshot.owner == session) owned.push_back(id);
    }
    for (const std::string& id : owned) release(id);
    for (auto it = owner_.begin(); it != owner_.end();) {
      if (it->second != session) {
        ++it;
        continue;
      }
      if (Interaction* i = interactions_.find(it->first)) i->locked = false;
      it = owner_.erase(it);
    }
  }

 private:
  InteractionRegistry& interactions_;
  const std::string start_token_;
  std::map<std::string, Snapshot> snapshots_;
  std::unordered_map<std::string, const ClientSession*> owner_;  // interaction -> session holding its lock
  uint64_t next_snapshot_ = 0;
};

}  // namespace ix::node
