#include "cellhub/bench/socket_stream.hpp"

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/payload_marks.hpp"
#include "cellhub/bench/sink_count.hpp"

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

rate_run timed_socket_stream(frame_socket& link, std::size_t message_size,
                             std::chrono::milliseconds window) {
  (void)ask_socket_totals(link);
  const auto source = marked_payload(message_size);
  const auto start = std::chrono::steady_clock::now();
  const auto sent = stream_frames(link, source, start + window);
  confirm_sink_count(ask_socket_totals(link), sent, message_size);
  return finished(sent, start);
}

void socket_round_trip(frame_socket& link, std::span<const std::byte> source,
                       std::span<std::byte> outgoing, std::vector<std::byte>& buffer) {
  std::memcpy(outgoing.data(), source.data(), source.size());
  if (!link.send(frame_kind::request, outgoing))
    throw bench_failure{"socket send failed"};
  auto reply = link.receive(buffer);
  if (!reply || reply->kind != frame_kind::reply || reply->length != source.size())
    throw bench_failure{"socket reply did not match its request"};
}

} // namespace cellhub::bench
