#pragma once

#include "cellhub/transport/result.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string_view>
#include <utility>

namespace cellhub::transport {

/// Tells what happened when a doorbell was rung.
enum class signal_result : std::uint8_t {
  /// Reports that the wake-up byte was queued for the peer.
  sent,
  /// Reports a full socket buffer: earlier wake-ups are still pending, so this one
  /// coalesces with them; the peer is alive.
  buffer_full,
  /// Reports that the peer's end is closed (the peer process died or hung up).
  peer_dead,
};

/// Returns the stable snake_case name of `value`.
std::string_view to_string(signal_result value) noexcept;

/// Writes the name of `value` to `out`.
std::ostream& operator<<(std::ostream& out, signal_result value);

/// Owns one end of a `socketpair(AF_UNIX, SOCK_SEQPACKET)` used for wake-ups and for
/// noticing, without traffic, that the process holding the other end died.
///
/// Every call is non-blocking except `wait`, and none throws. A doorbell that owns no
/// fd (default-constructed, moved-from, released or closed) behaves as if its peer
/// were dead: `signal`, `drain` and `wait` report `peer_dead` and `hung_up` is true.
/// `signal`, `drain`, `wait`, `hung_up` and `shutdown` may run concurrently from
/// several threads; `close`, `release`, assignment and destruction may not.
class doorbell {
public:
  /// Tells what `drain` found.
  enum class drain_result : std::uint8_t {
    /// Reports that nothing was pending.
    empty,
    /// Reports that at least one pending wake-up was consumed.
    drained,
    /// Reports that the peer's end is closed (pending wake-ups are consumed too).
    peer_dead,
  };

  /// Tells how `wait` ended.
  enum class wait_result : std::uint8_t {
    /// Reports that a wake-up is pending (call `drain` to consume it).
    rang,
    /// Reports that the timeout passed with nothing pending.
    timeout,
    /// Reports that the peer's end is closed.
    peer_dead,
  };

  /// Creates a connected pair of non-blocking, close-on-exec doorbell ends.
  static result<std::pair<doorbell, doorbell>> create_pair();

  /// Takes ownership of an inherited fd (the cell side) and sets `O_NONBLOCK` and
  /// `FD_CLOEXEC` on it; returns an empty doorbell if `fd` is negative or not open.
  static doorbell adopt(int fd) noexcept;

  /// Constructs a doorbell that owns no fd.
  doorbell() noexcept = default;

  /// Takes over the fd of `other`, leaving it empty.
  doorbell(doorbell&& other) noexcept;

  /// Closes the owned fd, then takes over the fd of `other`, leaving it empty.
  doorbell& operator=(doorbell&& other) noexcept;

  doorbell(const doorbell&) = delete;
  doorbell& operator=(const doorbell&) = delete;

  /// Closes the owned fd, if any.
  ~doorbell();

  /// Returns the owned fd, or -1.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Returns whether the doorbell owns an fd.
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }

  /// Gives up ownership of the fd and returns it (-1 if none); the caller must close it.
  [[nodiscard]] int release() noexcept;

  /// Closes the owned fd, if any; the doorbell becomes empty.
  void close() noexcept;

  /// Hangs up both directions without closing the fd: the peer sees `POLLHUP`/EOF at
  /// once (even while other processes hold copies of this end), and this end reports
  /// `peer_dead` from then on. Unlike `close`, the fd number stays taken, so threads
  /// still using the doorbell cannot hit an unrelated file that reused it.
  void shutdown() noexcept;

  /// Rings the peer: sends one byte with `MSG_DONTWAIT | MSG_NOSIGNAL`.
  /// `EAGAIN` reports `buffer_full`; `EPIPE`, `ECONNRESET`, `ENOTCONN` and
  /// `ECONNREFUSED` report `peer_dead`; any other errno is logged once per doorbell
  /// (warn level) and also reports `peer_dead`.
  signal_result signal() noexcept;

  /// Sends `fd` to the peer end (`SCM_RIGHTS`) in a packet of its own that carries
  /// `word`; the packet queues ahead of any later wake-up. The host hands a cell its
  /// peer region this way, so that no path names the region.
  result<void> send_fd(int fd, std::uint64_t word) noexcept;

  /// Holds what `receive_fd` took: a descriptor (close-on-exec, owned by the caller)
  /// and the word sent with it.
  struct received_fd {
    /// Holds the descriptor.
    int fd = -1;
    /// Holds the word sent with it.
    std::uint64_t word = 0;
  };

  /// Takes the next packet without blocking, which must be one `send_fd` sent:
  /// `bad_ticket` when no packet is pending or it carries no descriptor, `peer_dead`
  /// when the peer hung up first. Descriptors in excess are closed.
  result<received_fd> receive_fd() noexcept;

  /// Consumes every pending wake-up without blocking and tells whether there were any.
  /// Reads at most `max_drain_packets` packets per call so that a peer ringing
  /// in a loop cannot pin the caller; the fd then stays readable.
  drain_result drain() noexcept;

  /// Waits until a wake-up is pending, the peer hangs up, or `timeout` passes
  /// (a negative timeout waits forever). Does not consume the wake-up.
  wait_result wait(std::chrono::nanoseconds timeout) noexcept;

  /// Returns whether the peer's end is closed, without blocking and without reading.
  [[nodiscard]] bool hung_up() const noexcept;

  /// Bounds the number of packets one `drain` call reads.
  static constexpr int max_drain_packets = 4096;

private:
  explicit doorbell(int fd) noexcept
      : fd_{fd} {}

  // Logs an unexpected errno once per doorbell, so a broken fd cannot flood the log.
  void warn_once(std::string_view operation, int err) noexcept;

  int fd_ = -1;
  // Atomic because several threads may ring one doorbell.
  std::atomic<bool> warned_ = false;
};

/// Returns the stable snake_case name of `value`.
std::string_view to_string(doorbell::drain_result value) noexcept;

/// Writes the name of `value` to `out`.
std::ostream& operator<<(std::ostream& out, doorbell::drain_result value);

/// Returns the stable snake_case name of `value`.
std::string_view to_string(doorbell::wait_result value) noexcept;

/// Writes the name of `value` to `out`.
std::ostream& operator<<(std::ostream& out, doorbell::wait_result value);

} // namespace cellhub::transport
