#include "cellhub/bench/socket_stream.hpp"

#include "cellhub/bench/bench_context.hpp"

#include <cstring>

namespace cellhub::bench {

std::uint64_t stream_frames(frame_socket& link, std::span<const std::byte> source,
                            std::chrono::steady_clock::time_point stop) {
  std::vector<std::byte> outgoing(source.size());
  std::uint64_t sent = 0;
  while ((sent & 15) != 0 || std::chrono::steady_clock::now() < stop) {
    std::memcpy(outgoing.data(), source.data(), source.size());
    if (!link.send(frame_kind::data, outgoing))
      throw bench_failure{"socket send failed"};
    ++sent;
  }
  return sent;
}

std::vector<std::byte> ask_socket_totals(frame_socket& link) {
  if (!link.send(frame_kind::request, {}))
    throw bench_failure{"socket send failed"};
  std::vector<std::byte> buffer;
  auto reply = link.receive(buffer);
  if (!reply || reply->kind != frame_kind::reply)
    throw bench_failure{"the socket sink did not answer"};
  buffer.resize(reply->length);
  return buffer;
}

} // namespace cellhub::bench
