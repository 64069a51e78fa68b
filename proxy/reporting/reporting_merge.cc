#include "proxy/reporting/reporting_merge.h"

#include <algorithm>

namespace ix::proxy {

ReportingMerge::ReportingMerge(size_t nodes, int64_t max_delay_us) : max_delay_us_(max_delay_us), nodes_(nodes) {}

bool ReportingMerge::push(MergedEvent event) {
  Node& node = nodes_[event.node];
  if (event.seq <= node.seen_seq) return false;
  node.seen_seq = event.seq;
  node.latest_us = std::max(node.latest_us, event.timestamp_us);
  node.buffer.push_back(std::move(event));
  return true;
}

std::vector<MergedEvent> ReportingMerge::release(int64_t now_us) {
  std::vector<MergedEvent> out;
  for (;;) {
    // The earliest head; ties to the lower node index.
    size_t best = nodes_.size();
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].buffer.empty()) continue;
      if (best == nodes_.size() || nodes_[i].buffer.front().timestamp_us < nodes_[best].buffer.front().timestamp_us) best = i;
    }
    if (best == nodes_.size()) break;
    const MergedEvent& head = nodes_[best].buffer.front();
    // Safe when every other node is past this moment (its own head, if any, is not earlier:
    // it was not chosen), or when the event has waited long enough for a silent node.
    bool safe = now_us - head.timestamp_us >= max_delay_us_;
    if (!safe) {
      safe = true;
      for (size_t i = 0; i < nodes_.size() && safe; ++i) {
        if (i == best || !nodes_[i].buffer.empty() || nodes_[i].retired) continue;
        safe = nodes_[i].latest_us > head.timestamp_us || (nodes_[i].latest_us == head.timestamp_us && i > best);
      }
    }
    if (!safe) break;
    nodes_[best].released_seq = head.seq;
    out.push_back(std::move(nodes_[best].buffer.front()));
    nodes_[best].buffer.pop_front();
  }
  return out;
}

size_t ReportingMerge::waiting() const {
  size_t n = 0;
  for (const Node& node : nodes_) n += node.buffer.size();
  return n;
}

}  // namespace ix::proxy
