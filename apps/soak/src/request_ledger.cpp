#include "cellhub/soak/request_ledger.hpp"

#include <algorithm>

namespace cellhub::soak {

request_ledger::request_ledger(std::chrono::nanoseconds deadline, std::chrono::nanoseconds grace)
    : deadline_{deadline}
    , grace_{grace} {}

void request_ledger::sent(std::uint64_t id, std::string target, clock::time_point at) {
  open_.emplace_hint(open_.end(), id, open_request{std::move(target), at, false});
  ++sent_;
  max_open_ = std::max(max_open_, open_.size());
}

bool request_ledger::close(std::uint64_t id, clock::time_point at, latency_histogram& into) {
  const auto it = open_.find(id);
  if (it == open_.end())
    return false;
  if (it->second.overdue)
    ++late_;
  into.add(at - it->second.sent_at);
  open_.erase(it);
  return true;
}

void request_ledger::answered(std::uint64_t id, bool correct, clock::time_point at) {
  if (!close(id, at, answers_))
    return;
  if (correct)
    ++answered_;
  else
    ++corrupt_;
}

void request_ledger::failed(std::uint64_t id, std::string_view reason, clock::time_point at) {
  if (!close(id, at, failures_at_))
    return;
  ++failed_;
  if (auto it = failures_.find(reason); it != failures_.end())
    ++it->second;
  else
    failures_.emplace(std::string{reason}, 1);
}

std::vector<overdue_request> request_ledger::sweep(clock::time_point now) {
  std::vector<overdue_request> out;
  const auto limit = deadline_ + grace_;
  // Requests were sent in id order with one deadline, so the first one not overdue
  // ends the scan; the ones already reported stay until they end.
  for (auto& [id, request] : open_) {
    const auto open_for = now - request.sent_at;
    if (open_for <= limit)
      break;
    if (request.overdue)
      continue;
    request.overdue = true;
    ++overdue_;
    out.push_back({id, request.target, open_for});
  }
  return out;
}

} // namespace cellhub::soak
