#include "cellhub/transport/spsc_ring.hpp"

#include <fmt/format.h>

namespace cellhub::transport::detail {

error ring_index_violation(const char* index_name, std::uint64_t index, std::uint64_t low,
                           std::uint64_t high) {
  return make_error(errc::protocol_violation,
                    fmt::format("ring {} {} outside [{}, {}]", index_name, index, low, high));
}

} // namespace cellhub::transport::detail
