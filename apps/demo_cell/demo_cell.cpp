#include "demo_cell.hpp"

#include "cue_signals.hpp"

#include "cellhub/apps/duration.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

namespace cellhub::demo {
namespace {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

// Spaces the heartbeats of a busy cell (--work): far below any sane hang timeout.
constexpr std::chrono::milliseconds busy_heartbeat{1};

// Bounds one wait for ring space, so scripted deadlines are still seen while blocked.
constexpr std::chrono::milliseconds space_wait{100};

// Re-checks held replies this often: only while a --garbage descriptor is unread.
constexpr std::chrono::milliseconds held_reply_recheck{1};

// The flags the host appends to every cell's command line (cell_ticket::to_arguments);
// accepted here so that a misspelt flag of our own is still an error.
constexpr const char* ticket_flags[] = {"--hub-path", "--peer-id", "--incarnation",
                                        "--attach-token", "--doorbell-fd"};

// Adds a duration flag: validated with parse_duration, stored once parsed.
CLI::Option* add_duration(CLI::App& app, const std::string& name,
                          std::optional<std::chrono::nanoseconds>& target,
                          const std::string& description) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name](const std::string& text) {
            const auto parsed = apps::parse_duration(text);
            if (!parsed)
              throw CLI::ValidationError(name,
                                         "'" + text + "' is not a duration (write e.g. 300ms, 2s)");
            target = *parsed;
          },
          description)
      ->type_name("D");
}

shm::ring_header& to_host_ring(tr::cell& self) noexcept {
  return *reinterpret_cast<shm::ring_header*>(self.region() +
                                              self.link().geometry().to_host_ring_offset);
}

} // namespace

parsed_command_line parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"cellhub-demo-cell: a demo worker cell. It answers each request with a 24-byte\n"
               "record (FNV-1a 64, word count, byte count of the payload, little-endian) and\n"
               "crashes, hangs, exits or misbehaves on cue. Deadlines count from READY."};
  app.footer("Signals: SIGUSR1 writes garbage into the ring at once (like --garbage);\n"
             "SIGUSR2 says goodbye and lingers: the cell keeps reading and heartbeating,\n"
             "answers nothing, and exits only when the host hangs up or a signal ends it.\n"
             "Either is acted on within 100 ms.\n"
             "Exit codes: 0 goodbye or host gone, 1 failed start or transport error,\n"
             "2 bad usage or failed attach; --crash-after ends by SIGSEGV.");
  demo_cell_options options;
  std::optional<std::chrono::nanoseconds> work;
  // CLI11 would take a following flag (the ticket's `--hub-path=...`) as the name.
  const CLI::Validator plain_name{[](std::string& name) {
                                    return name.empty() || name.front() == '-'
                                               ? "'" + name + "' is not a role name"
                                               : std::string{};
                                  },
                                  ""};
  app.add_option("--role", options.role, "Names the cell's role (printed on stderr at start)")
      ->type_name("NAME")
      ->check(plain_name);
  add_duration(app, "--crash-after", options.crash_after,
               "Crashes with SIGSEGV D after READY, while serving");
  app.add_flag("--crash-on-start", options.crash_on_start,
               "Exits 1 before attaching (a failed start: READY never comes)");
  add_duration(app, "--hang-after", options.hang_after,
               "Stops reading and heartbeating forever D after READY");
  add_duration(app, "--exit-after", options.exit_after,
               "Says goodbye and exits 0 D after READY (an announced clean exit)");
  app.add_flag("--garbage", options.garbage,
               "Writes a bogus descriptor into its cell-to-host ring right after READY");
  add_duration(app, "--work", work, "Spends D of CPU time on each request, heartbeating");
  // Hidden: cell::attach reads them from argv itself.
  std::vector<std::string> ticket(std::size(ticket_flags));
  for (std::size_t i = 0; i < std::size(ticket_flags); ++i)
    app.add_option(ticket_flags[i], ticket[i])->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // Help is a success; every real parse error is bad usage, whatever CLI11's own code.
    return {std::nullopt, code == 0 ? exit_code::clean : exit_code::usage};
  }
  options.work = work.value_or(std::chrono::nanoseconds{0});
  return {std::move(options), exit_code::clean};
}

demo_cell::demo_cell(transport::cell& self, demo_cell_options options)
    : self_{self}
    , options_{std::move(options)}
    , started_{clock::now()} {}

std::optional<demo_cell::clock::time_point> demo_cell::next_deadline() const noexcept {
  std::optional<clock::time_point> earliest;
  for (const auto& after : {options_.crash_after, options_.hang_after, options_.exit_after})
    if (after && (!earliest || started_ + *after < *earliest))
      earliest = started_ + *after;
  return earliest;
}

std::optional<demo_cell::scripted_end> demo_cell::due(clock::time_point now) const noexcept {
  std::optional<scripted_end> what;
  std::optional<clock::time_point> when;
  const std::pair<const std::optional<std::chrono::nanoseconds>&, scripted_end> script[] = {
      {options_.crash_after, scripted_end::crash},
      {options_.hang_after, scripted_end::hang},
      {options_.exit_after, scripted_end::exit},
  };
  for (const auto& [after, end] : script)
    if (after && started_ + *after <= now && (!when || started_ + *after < *when)) {
      when = started_ + *after;
      what = end;
    }
  return what;
}

int demo_cell::run() {
  if (!options_.role.empty())
    fmt::print(stderr, "cellhub-demo-cell: role {} (peer {}, incarnation {}, pid {})\n",
               options_.role, self_.peer_id(), self_.incarnation(), ::getpid());
  if (options_.garbage)
    inject_garbage();
  for (;;) {
    const auto now = clock::now();
    if (const auto what = due(now))
      return end(*what);
    if (const auto code = take_cues())
      return *code;
    if (const auto code = flush_held_replies())
      return *code;
    // The transport retries its wait after a signal, so a cue is seen only when the
    // wait ends: never wait longer than cue_check.
    std::chrono::nanoseconds wait = cue_check;
    if (const auto deadline = next_deadline())
      wait =
          std::clamp<std::chrono::nanoseconds>(*deadline - now, std::chrono::nanoseconds{0}, wait);
    if (!held_replies_.empty())
      wait = std::min<std::chrono::nanoseconds>(wait, held_reply_recheck);
    auto next = self_.receive(wait);
    if (!next) {
      if (next.error().code == transport::errc::timeout)
        continue;
      if (next.error().code == transport::errc::peer_dead)
        return exit_code::clean; // the host hung up: nobody is left to serve
      fmt::print(stderr, "cellhub-demo-cell: receive failed: {}\n", next.error().message());
      return exit_code::failure;
    }
    if (const auto code = handle(next.value()))
      return *code;
  }
}

int demo_cell::end(scripted_end what) {
  switch (what) {
  case scripted_end::crash:
    crash_with_sigsegv();
  case scripted_end::hang:
    hang_forever();
  case scripted_end::exit:
    break;
  }
  auto bye = self_.goodbye();
  if (!bye && bye.error().code != transport::errc::peer_dead) {
    fmt::print(stderr, "cellhub-demo-cell: goodbye failed: {}\n", bye.error().message());
    return exit_code::failure;
  }
  return exit_code::clean;
}

std::optional<int> demo_cell::handle(transport::incoming_message& msg) {
  // A cell that said goodbye has nothing more to say: it takes messages (which
  // heartbeats, so it is never taken for hung) and answers none, not even a goodbye.
  if (lingering_)
    return std::nullopt;
  switch (msg.kind) {
  case shm::message_kind::request: {
    if (options_.work.count() > 0)
      if (const auto what = busy_work())
        return end(*what);
    const auto code = answer(msg.msg_id, msg.payload.bytes());
    ++requests_served_;
    return code;
  }
  case shm::message_kind::message:
    ++messages_ignored_;
    return std::nullopt;
  case shm::message_kind::goodbye:
    return end(scripted_end::exit);
  case shm::message_kind::reply:
  case shm::message_kind::ready:
    // Not something a host sends; harmless, so it is dropped.
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<int> demo_cell::answer(std::uint64_t msg_id, std::span<const std::byte> payload) {
  const auto encoded = encode_demo_reply(compute_demo_reply(payload));
  return send_reply(msg_id, encoded);
}

std::optional<int> demo_cell::send_reply(std::uint64_t msg_id, std::span<const std::byte> bytes) {
  if (garbage_unread()) {
    std::array<std::byte, demo_reply_size> copy{};
    std::copy(bytes.begin(), bytes.end(), copy.begin());
    held_replies_.emplace_back(msg_id, copy);
    return std::nullopt;
  }
  for (;;) {
    auto sent = self_.reply(msg_id, bytes);
    if (sent)
      return std::nullopt;
    const auto code = sent.error().code;
    if (code == transport::errc::peer_dead)
      return exit_code::clean;
    if (code != transport::errc::ring_full && code != transport::errc::no_slot) {
      fmt::print(stderr, "cellhub-demo-cell: reply failed: {}\n", sent.error().message());
      return exit_code::failure;
    }
    // The host is slow to read, not this cell: keep heartbeating and keep the script.
    self_.heartbeat();
    if (const auto what = due(clock::now()))
      return end(*what);
    auto space = self_.wait_for_space(space_wait);
    if (!space && space.error().code == transport::errc::peer_dead)
      return exit_code::clean;
  }
}

std::optional<demo_cell::scripted_end> demo_cell::busy_work() {
  const auto until = clock::now() + options_.work;
  auto next_beat = clock::now();
  for (auto now = next_beat; now < until; now = clock::now()) {
    if (const auto what = due(now))
      return what;
    if (now >= next_beat) {
      self_.heartbeat();
      next_beat = now + busy_heartbeat;
    }
  }
  return std::nullopt;
}

void demo_cell::inject_garbage() {
  const auto& geometry = self_.link().geometry();
  auto& header = to_host_ring(self_);
  auto* ring = reinterpret_cast<shm::descriptor*>(self_.region() + geometry.to_host_ring_offset +
                                                  sizeof(shm::ring_header));
  shm::descriptor bogus{};
  bogus.kind = static_cast<std::uint16_t>(shm::message_kind::message);
  bogus.slot = geometry.slot_total() + 7; // no such slot in the arena
  bogus.length = 0xFFFF'FF00u;            // and far more bytes than any slot holds
  // Published behind the endpoint's back, the way a buggy or hostile cell would.
  const auto head = header.head.load(std::memory_order_acquire);
  std::memcpy(&ring[head % geometry.ring_capacity], &bogus, sizeof(bogus));
  header.head.store(head + 1, std::memory_order_release);
  garbage_index_ = head;
  (void)self_.link().ring();
}

std::optional<int> demo_cell::take_cues() {
  if (take_cue(cue::garbage) && !garbage_index_ && !lingering_)
    inject_garbage();
  if (take_cue(cue::linger) && !lingering_) {
    lingering_ = true;
    goodbye_owed_ = true;
    held_replies_.clear(); // a lingering cell answers nothing
  }
  if (goodbye_owed_)
    return say_lingering_goodbye();
  return std::nullopt;
}

std::optional<int> demo_cell::say_lingering_goodbye() {
  // The goodbye would be written over an unread bogus descriptor (see garbage_unread).
  if (garbage_unread())
    return std::nullopt;
  auto bye = self_.goodbye();
  if (bye) {
    goodbye_owed_ = false;
    return std::nullopt;
  }
  const auto code = bye.error().code;
  if (code == transport::errc::peer_dead)
    return exit_code::clean;
  if (code == transport::errc::ring_full || code == transport::errc::no_slot)
    return std::nullopt; // the host is slow to read: tried again on the next turn
  fmt::print(stderr, "cellhub-demo-cell: goodbye failed: {}\n", bye.error().message());
  return exit_code::failure;
}

bool demo_cell::garbage_unread() noexcept {
  // The endpoint keeps its own copy of the ring's head, so its next send would be
  // written over the bogus descriptor. Until the host has taken that descriptor,
  // replies are held back: a host that reads the ring meets the garbage first.
  if (!garbage_index_)
    return false;
  if (to_host_ring(self_).tail.load(std::memory_order_acquire) <= *garbage_index_)
    return true;
  garbage_index_.reset();
  return false;
}

std::optional<int> demo_cell::flush_held_replies() {
  if (held_replies_.empty() || garbage_unread())
    return std::nullopt;
  auto held = std::move(held_replies_);
  held_replies_.clear();
  for (const auto& [msg_id, bytes] : held)
    if (const auto code = send_reply(msg_id, bytes))
      return code;
  return std::nullopt;
}

void crash_with_sigsegv() noexcept {
  // A deliberate crash needs no core file; demos crash in loops.
  rlimit core{};
  if (::getrlimit(RLIMIT_CORE, &core) == 0) {
    core.rlim_cur = 0;
    (void)::setrlimit(RLIMIT_CORE, &core);
  }
  // Sanitizers install a SIGSEGV handler that would turn the signal into exit code 1.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  (void)::sigaction(SIGSEGV, &default_action, nullptr);
  sigset_t segv;
  sigemptyset(&segv);
  sigaddset(&segv, SIGSEGV);
  (void)::pthread_sigmask(SIG_UNBLOCK, &segv, nullptr);
  std::raise(SIGSEGV);
  std::abort(); // unreachable: SIGSEGV's default action ends the process
}

void hang_forever() noexcept {
  for (;;)
    ::pause();
}

} // namespace cellhub::demo
