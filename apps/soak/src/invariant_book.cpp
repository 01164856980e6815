#include "cellhub/soak/invariant_book.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cellhub::soak {

std::string_view to_string(invariant which) noexcept {
  switch (which) {
  case invariant::host_alive:
    return "host_alive";
  case invariant::replies_correct:
    return "replies_correct";
  case invariant::requests_within_deadline:
    return "requests_within_deadline";
  case invariant::cells_ready_at_end:
    return "cells_ready_at_end";
  case invariant::rss_flat:
    return "rss_flat";
  case invariant::fds_flat:
    return "fds_flat";
  case invariant::hub_audit_baseline:
    return "hub_audit_baseline";
  case invariant::nothing_left:
    return "nothing_left";
  case invariant::chaos_handled:
    return "chaos_handled";
  case invariant::no_unprovoked_deaths:
    return "no_unprovoked_deaths";
  }
  return "?";
}

void invariant_book::violate(invariant which, std::string what) {
  auto& record = records_[static_cast<std::size_t>(which)];
  ++record.violations;
  if (record.examples.size() >= kept_examples)
    return;
  if (live_ != nullptr) {
    fmt::print(live_, "cellhub-soak: VIOLATION {}: {}\n", to_string(which), what);
    if (record.examples.size() + 1 == kept_examples)
      fmt::print(live_, "cellhub-soak: (further violations of {} are only counted)\n",
                 to_string(which));
    std::fflush(live_);
  }
  record.examples.push_back(std::move(what));
}

void invariant_book::set_figures(invariant which, std::string figures) {
  records_[static_cast<std::size_t>(which)].figures = std::move(figures);
}

const invariant_record& invariant_book::record(invariant which) const noexcept {
  return records_[static_cast<std::size_t>(which)];
}

bool invariant_book::all_held() const noexcept {
  return std::all_of(records_.begin(), records_.end(),
                     [](const invariant_record& r) { return r.held(); });
}

std::vector<invariant> invariant_book::violated() const {
  std::vector<invariant> out;
  for (const auto which : all_invariants)
    if (!record(which).held())
      out.push_back(which);
  return out;
}

} // namespace cellhub::soak
