// ReportingMerge: the ordering core of the proxy's merged reporting stream (DESIGN.md §7).
//
// Each node's events arrive in that node's seq order. The merge releases them as one stream
// that keeps every node's order and interleaves nodes by event time: an event is released when
// no node can still deliver an earlier one — every other node has already shown an event at
// least as late — or, so that a silent node cannot stall the stream, when it has waited
// max-delay. Ties in time go to the node listed first, so the order is deterministic.
//
// The merge also keeps each node's resume position: the last seq released from it.
//
// Nodes are the proxy's pair slots (RoutingTable): a reload adds nodes (resize) and retires the
// nodes of pairs it removed — a retired node's events already received are still released in
// order, but it no longer holds the stream back while silent. A node that comes back is revived
// with its positions as they were.
// Pure (time is passed in); owned by one loop.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace ix::proxy {

struct MergedEvent {
  size_t node = 0;  // index into the merge's nodes
  uint64_t seq = 0;
  int64_t timestamp_us = 0;
  std::shared_ptr<const std::vector<uint8_t>> payload;  // the verified envelope, opaque here
};

class ReportingMerge {
 public:
  ReportingMerge(size_t nodes, int64_t max_delay_us);

  // An event from a node. Returns false (and drops it) when its seq is not after the last one
  // seen from that node: a duplicate after a reconnect or a failover resume.
  bool push(MergedEvent event);
  // Grows to `nodes` nodes (never shrinks: nodes are slots that keep their meaning).
  void resize(size_t nodes) {
    if (nodes > nodes_.size()) nodes_.resize(nodes);
  }
  // The node's pair was removed (or is back): a retired node never holds the stream.
  void set_retired(size_t node, bool retired) { nodes_[node].retired = retired; }
  bool retired(size_t node) const { return nodes_[node].retired; }
  // Starts a node's stream after seq: what a client resuming from there already has.
  void start_after(size_t node, uint64_t seq) { nodes_[node].seen_seq = nodes_[node].released_seq = seq; }
  // The events that may go out now, in merged order.
  std::vector<MergedEvent> release(int64_t now_us);

  // Last seq released per node (0 = none yet).
  uint64_t released_seq(size_t node) const { return nodes_[node].released_seq; }
  // Last seq accepted per node (released or waiting).
  uint64_t seen_seq(size_t node) const { return nodes_[node].seen_seq; }
  size_t waiting() const;
  size_t nodes() const { return nodes_.size(); }

 private:
  struct Node {
    std::deque<MergedEvent> buffer;
    uint64_t seen_seq = 0;
    uint64_t released_seq = 0;
    int64_t latest_us = INT64_MIN;  // the latest event time this node has shown
    bool retired = false;           // its pair was removed: it sends nothing more
  };
  int64_t max_delay_us_;
  std::vector<Node> nodes_;
};

}  // namespace ix::proxy
