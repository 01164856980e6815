#pragma once

// Every request the soak sends, from its send time until it is answered or failed:
// what makes "every request answered or failed within its deadline" checkable.

#include "cellhub/soak/latency_histogram.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::soak {

/// Describes a request found open past its deadline and grace.
struct overdue_request {
  /// Numbers the request.
  std::uint64_t id = 0;
  /// Holds the cell it was sent to.
  std::string target;
  /// Holds how long it has been open.
  std::chrono::nanoseconds open_for{0};
};

/// Tracks open requests in send order and counts how each one ended.
class request_ledger {
public:
  /// Names the clock of every time given to the ledger.
  using clock = std::chrono::steady_clock;

  /// Creates a ledger whose requests are due within `deadline`, overdue past
  /// `deadline + grace`.
  request_ledger(std::chrono::nanoseconds deadline, std::chrono::nanoseconds grace);

  /// Records request `id` (ids increase with send time) to `target`, sent `at`.
  void sent(std::uint64_t id, std::string target, clock::time_point at);

  /// Records the answer to `id`; `correct` tells whether its checksum matched.
  void answered(std::uint64_t id, bool correct, clock::time_point at);

  /// Records the failure of `id` with the error's name.
  void failed(std::uint64_t id, std::string_view reason, clock::time_point at);

  /// Returns the requests that became overdue since the last sweep (each once).
  std::vector<overdue_request> sweep(clock::time_point now);

  /// Counts the requests sent.
  [[nodiscard]] std::uint64_t sent_count() const noexcept { return sent_; }
  /// Counts the requests answered with a correct reply.
  [[nodiscard]] std::uint64_t answered_count() const noexcept { return answered_; }
  /// Counts the replies whose checksum did not match their request.
  [[nodiscard]] std::uint64_t corrupt_count() const noexcept { return corrupt_; }
  /// Counts the requests that failed (any reason).
  [[nodiscard]] std::uint64_t failed_count() const noexcept { return failed_; }
  /// Counts failures by the error's name (cell_died, restarting, request_timeout, ...).
  [[nodiscard]] const std::map<std::string, std::uint64_t, std::less<>>& failures() const noexcept {
    return failures_;
  }
  /// Counts the requests that were open past deadline + grace.
  [[nodiscard]] std::uint64_t overdue_count() const noexcept { return overdue_; }
  /// Counts answers or failures that came after the request was found overdue.
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_; }
  /// Counts the requests still open.
  [[nodiscard]] std::size_t open_count() const noexcept { return open_.size(); }
  /// Holds the largest number of requests open at once.
  [[nodiscard]] std::size_t max_open() const noexcept { return max_open_; }
  /// Returns how long answered requests took.
  [[nodiscard]] const latency_histogram& answer_latency() const noexcept { return answers_; }
  /// Returns how long failed requests took to fail.
  [[nodiscard]] const latency_histogram& failure_latency() const noexcept { return failures_at_; }
  /// Returns the deadline.
  [[nodiscard]] std::chrono::nanoseconds deadline() const noexcept { return deadline_; }
  /// Returns the grace.
  [[nodiscard]] std::chrono::nanoseconds grace() const noexcept { return grace_; }

private:
  struct open_request {
    std::string target;
    clock::time_point sent_at;
    bool overdue = false;
  };

  // Removes `id`; returns its record unless it was unknown (answered twice, or never sent).
  bool close(std::uint64_t id, clock::time_point at, latency_histogram& into);

  std::chrono::nanoseconds deadline_;
  std::chrono::nanoseconds grace_;
  // Ordered by id, hence by send time: the oldest open request is the first.
  std::map<std::uint64_t, open_request> open_;
  std::uint64_t sent_ = 0;
  std::uint64_t answered_ = 0;
  std::uint64_t corrupt_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t overdue_ = 0;
  std::uint64_t late_ = 0;
  std::size_t max_open_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> failures_;
  latency_histogram answers_;
  latency_histogram failures_at_;
};

} // namespace cellhub::soak
