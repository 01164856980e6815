#include "cellhub/bench/sink_count.hpp"

#include "cellhub/bench/bench_context.hpp"

#include <fmt/format.h>

#include <cstring>

namespace cellhub::bench {

void confirm_sink_count(std::span<const std::byte> answer, std::uint64_t sent,
                        std::size_t message_size) {
  std::uint64_t totals[3] = {0, 0, 0};
  if (answer.size() != sizeof totals)
    throw bench_failure{"the sink's totals are malformed"};
  std::memcpy(totals, answer.data(), sizeof totals);
  if (totals[0] != sent || totals[1] != sent * message_size)
    throw bench_failure{fmt::format("the sink counted {} messages, {} were sent", totals[0], sent)};
}

} // namespace cellhub::bench
