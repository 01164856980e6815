#include "cell_manager.hpp"

#include "cellhub/transport/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>
#include <sys/eventfd.h>
#include <unistd.h>

namespace cellhub::examples {
namespace {

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

// Bounds the shift in `backoff`, whatever the options say, so it cannot overflow.
constexpr std::uint32_t max_backoff_exponent = 30;

// Renders an exit status as one token: `exit:0`, `signal:SIGKILL`, `signal:SIGSEGV+core`.
std::string status_token(const std::optional<tr::exit_status>& status) {
  if (!status)
    return "unknown";
  if (!status->signaled)
    return fmt::format("exit:{}", status->code);
  const char* abbrev = sigabbrev_np(status->signal);
  const std::string name = abbrev ? fmt::format("SIG{}", abbrev) : std::to_string(status->signal);
  return fmt::format("signal:{}{}", name, status->core_dumped ? "+core" : "");
}

// Names how the host learned of a death, as one token.
std::string_view seen_token(const tr::peer_transport& transport) {
  const auto cause = transport.death();
  if (!cause)
    return "unknown";
  switch (*cause) {
  case tr::death_cause::signal_failed:
    return "signal_failed";
  case tr::death_cause::hung_up:
    return "hung_up";
  case tr::death_cause::process_exited:
    return "process_exited";
  case tr::death_cause::protocol_violation:
    return "protocol_violation";
  }
  return "unknown";
}

} // namespace

// --- death_queue ------------------------------------------------------------------

tr::result<std::unique_ptr<death_queue>> death_queue::create() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    return tr::make_sys_error("eventfd for the death queue");
  return std::unique_ptr<death_queue>(new death_queue(fd));
}

death_queue::~death_queue() {
  ::close(fd_);
}

void death_queue::push(std::uint16_t peer_id) noexcept {
  {
    std::lock_guard guard{mutex_};
    queued_.push_back(peer_id);
  }
  const std::uint64_t one = 1;
  // EAGAIN only means the counter is saturated: the reader is woken anyway.
  [[maybe_unused]] const auto written = ::write(fd_, &one, sizeof one);
}

std::vector<std::uint16_t> death_queue::take_all() {
  // Reset the eventfd before taking the ids: a push racing with us then leaves the fd
  // readable, so its id is taken on the next round at the latest.
  std::uint64_t count = 0;
  [[maybe_unused]] const auto got = ::read(fd_, &count, sizeof count);
  std::lock_guard guard{mutex_};
  return std::exchange(queued_, {});
}

// --- cell_manager ------------------------------------------------------------------

tr::result<std::unique_ptr<cell_manager>> cell_manager::create(std::shared_ptr<tr::hub_host> hub,
                                                               cell_manager_options options,
                                                               event_sink sink) {
  BOOST_OUTCOME_TRY(set, tr::epoll_set::create());
  BOOST_OUTCOME_TRY(watch, tr::death_watch::create());
  BOOST_OUTCOME_TRY(deaths, death_queue::create());
  BOOST_OUTCOME_TRY(
      set.add(deaths->fd(), std::uint64_t{static_cast<std::uint8_t>(fd_kind::deaths)}));
  BOOST_OUTCOME_TRY(set.add(watch.fd(), std::uint64_t{static_cast<std::uint8_t>(fd_kind::watch)}));
  return std::unique_ptr<cell_manager>(new cell_manager(std::move(hub), options, std::move(sink),
                                                        std::move(set), std::move(watch),
                                                        std::move(deaths)));
}

cell_manager::cell_manager(std::shared_ptr<tr::hub_host> hub, cell_manager_options options,
                           event_sink sink, tr::epoll_set set, tr::death_watch watch,
                           std::unique_ptr<death_queue> deaths)
    : hub_{std::move(hub)}
    , options_{options}
    , sink_{std::move(sink)}
    , set_{std::move(set)}
    , watch_{std::move(watch)}
    , deaths_{std::move(deaths)} {}

cell_manager::~cell_manager() {
  kill_all();
}

void cell_manager::kill_all() noexcept {
  // Killed and reaped on purpose before the transports go: dropping the transport of
  // a live cell would also kill it, but log that the host hung up on a live cell.
  for (auto& [peer_id, life] : cells_)
    if (auto* child = life.transport->child(); child != nullptr && !child->status()) {
      (void)child->send_signal(SIGKILL);
      (void)child->wait_for(std::chrono::nanoseconds{-1});
    }
  cells_.clear();
  current_.clear();
}

std::uint64_t cell_manager::key_of(std::uint16_t peer_id, std::uint32_t incarnation) {
  // The incarnation makes a notice about an earlier life of the entry harmless.
  return (std::uint64_t{incarnation} << 16) | peer_id;
}

cell_manager::cell_life* cell_manager::find(std::uint64_t key) {
  const auto peer_id = static_cast<std::uint16_t>(key & 0xFFFF);
  const auto incarnation = static_cast<std::uint32_t>((key >> 16) & 0xFFFF'FFFF);
  const auto it = cells_.find(peer_id);
  if (it == cells_.end() || it->second.transport->incarnation() != incarnation)
    return nullptr;
  return &it->second;
}

std::optional<std::uint16_t> cell_manager::peer_of(const std::string& name) const {
  const auto it = current_.find(name);
  if (it == current_.end())
    return std::nullopt;
  return it->second;
}

void cell_manager::emit(std::string_view line) const {
  if (sink_)
    sink_(line);
}

std::optional<cell_manager::clock::time_point>
cell_manager::relaunch_due(const std::string& name) const {
  const auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&name](const pending_relaunch& r) { return r.name == name; });
  if (it == pending_.end())
    return std::nullopt;
  return it->due;
}

cell_manager::clock::time_point cell_manager::now() const {
  return options_.now ? options_.now() : clock::now();
}

std::chrono::milliseconds cell_manager::backoff(std::uint32_t relaunches) const {
  const auto exponent = std::min({relaunches, options_.backoff_cap_exponent, max_backoff_exponent});
  return options_.backoff_base * (std::int64_t{1} << exponent);
}

tr::result<std::uint16_t> cell_manager::spawn_cell(std::string name, cell_recipe recipe) {
  if (current_.contains(name))
    return tr::make_error(tr::errc::invalid_argument,
                          fmt::format("cell {} is running already", name));
  // The seed's low-level path: add a peer, apply its ticket to the command, spawn,
  // and hand the process to the transport.
  // on_death must not block: it only queues the id (and may run on any thread).
  tr::add_peer_options options{
      .peer_name = name,
      .on_death = [queue = deaths_.get()](std::uint16_t peer_id) { queue->push(peer_id); }};
  BOOST_OUTCOME_TRY(added, hub_->add_peer_transport_with_options(std::move(options)));
  tr::spawn_options command{.binary = recipe.binary, .args = recipe.args, .env = recipe.env};
  added.ticket.apply_to_command(command);
  BOOST_OUTCOME_TRY(child, tr::process::spawn(command));
  // The cell holds its own copy of its doorbell end now. Ours must go, or the cell's
  // death would never hang the doorbell up.
  added.ticket.cell_doorbell.close();
  auto transport = std::move(added.transport);
  transport->adopt_process(std::move(child));

  const auto peer_id = transport->peer_id();
  const auto incarnation = transport->incarnation();
  const auto pid = transport->child()->pid();
  // On failure `transport` is destroyed on return, which kills and reaps the cell.
  BOOST_OUTCOME_TRY(
      watch_.watch(key_of(peer_id, incarnation), {.doorbell_fd = ::dup(transport->doorbell_fd()),
                                                  .pidfd = ::dup(transport->child()->pidfd())}));

  tr::logger()->info("cell_manager: spawned {} as peer_id={} incarnation={} pid={}", name, peer_id,
                     incarnation, pid);
  emit(fmt::format("started name={} peer_id={} incarnation={} pid={}", name, peer_id, incarnation,
                   pid));
  current_[name] = peer_id;
  cells_.emplace(peer_id, cell_life{.name = std::move(name),
                                    .recipe = std::move(recipe),
                                    .transport = std::move(transport)});
  return peer_id;
}

tr::result<void> cell_manager::run(int stop_fd, std::optional<clock::time_point> until) {
  if (stop_fd >= 0) {
    BOOST_OUTCOME_TRY(set_.add(stop_fd, std::uint64_t{static_cast<std::uint8_t>(fd_kind::stop)}));
  }
  bool stop_seen = false;
  tr::result<void> outcome = tr::success();
  while (!stop_seen && (!until || now() < *until)) {
    outcome = step(until, stop_seen);
    if (!outcome)
      break;
  }
  if (stop_fd >= 0)
    (void)set_.remove(stop_fd);
  return outcome;
}

tr::result<void> cell_manager::run_once(std::chrono::milliseconds max_wait) {
  bool stop_seen = false;
  return step(std::nullopt, stop_seen, max_wait);
}

void cell_manager::stop() {
  for (const auto& relaunch : pending_)
    tr::logger()->info("cell_manager: dropping the pending relaunch of {}", relaunch.name);
  pending_.clear();
  stopping_ = true;
  for (auto& [peer_id, life] : cells_) {
    if (life.at != stage::running)
      continue;
    life.stopping = true;
    life.escalation.emplace(options_.stop_timeout / 2);
    // A failure means the cell is dead already; its death is handled below like any other.
    if (auto asked = tr::take_step(*life.transport, life.escalation->begin(now())); !asked)
      tr::logger()->debug("cell_manager: goodbye to {} failed: {}", life.name,
                          asked.error().message());
  }
  const auto deadline = now() + options_.stop_timeout;
  bool ignored = false;
  while (!cells_.empty() && now() < deadline)
    if (auto stepped = step(deadline, ignored); !stepped) {
      tr::logger()->error("cell_manager: {}", stepped.error().message());
      break;
    }
  for (auto& [peer_id, life] : cells_) {
    tr::logger()->warn("cell_manager: {} (peer_id={}) did not exit within {} ms; killing it",
                       life.name, peer_id, options_.stop_timeout.count());
    emit(fmt::format("stopped name={} peer_id={} pid={} status=killed", life.name, peer_id,
                     life.transport->child()->pid()));
  }
  kill_all();
}

tr::result<void> cell_manager::step(std::optional<clock::time_point> until, bool& stop_seen,
                                    std::chrono::milliseconds max_wait) {
  auto wake_at = next_timer();
  if (until && (!wake_at || *until < *wake_at))
    wake_at = until;
  // Rounding up means the wait never ends just before a timer is due and spins.
  auto timeout = max_wait;
  if (wake_at) {
    const auto left = std::max(std::chrono::milliseconds{0},
                               std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now()));
    if (timeout < std::chrono::milliseconds{0} || left < timeout)
      timeout = left;
  }
  std::array<tr::fd_event, 8> events{};
  BOOST_OUTCOME_TRY(count, set_.wait(events, timeout));
  for (std::size_t i = 0; i < count; ++i)
    handle(events[i], stop_seen);
  handle_deaths();
  run_timers();
  return tr::success();
}

void cell_manager::handle(const tr::fd_event& event, bool& stop_seen) {
  switch (static_cast<fd_kind>(event.token)) {
  case fd_kind::stop:
    stop_seen = true;
    return;
  case fd_kind::deaths:
    return; // `handle_deaths` runs after every batch
  case fd_kind::watch:
    if (auto waited = watch_.wait(std::chrono::milliseconds{0},
                                  [this](const tr::life_notice& notice) { on_notice(notice); });
        !waited)
      tr::logger()->error("cell_manager: {}", waited.error().message());
    return;
  }
}

void cell_manager::on_notice(const tr::life_notice& notice) {
  auto* life = find(notice.key);
  if (life == nullptr)
    return;
  auto& transport = *life->transport;
  if (life->at == stage::dying) {
    // Waiting for the exit of a cell whose death was seen: the pidfd's notice.
    if (notice.exit && transport.child()->try_wait())
      finish(transport.peer_id());
    return;
  }
  // Wake-ups were consumed by the watch before it told us, so a message published
  // after this look rings anew. The cell published everything before its end: take it
  // first, so that a goodbye is known when the death is reported (and logged).
  take_messages(*life);
  if (!notice.death)
    return;
  // Prefer the doorbell's account of the death; the pidfd only speaks for a cell
  // whose doorbell end lives on (passed to a grandchild, say). A death found here, a
  // protocol violation included, is reported through on_death, which queues it for
  // `handle_deaths`.
  if (*notice.death == tr::death_cause::hung_up || !transport.check_hangup())
    transport.report_death(*notice.death);
}

void cell_manager::take_messages(cell_life& life) {
  auto& transport = *life.transport;
  // A ring never holds more; anything published meanwhile rings the doorbell again.
  for (std::uint32_t i = 0; i < hub_->geometry().ring_capacity; ++i) {
    auto next = transport.try_receive();
    if (!next || !next.value())
      return; // nothing waiting, or a protocol violation (logged by the transport)
    const auto& msg = *next.value();
    switch (msg.kind) {
    case tr::shm::message_kind::ready:
      emit(fmt::format("ready name={} peer_id={} pid={}", life.name, transport.peer_id(),
                       transport.ready_pid()));
      break;
    case tr::shm::message_kind::goodbye:
      tr::logger()->info("cell_manager: {} (peer_id={}) said goodbye", life.name,
                         transport.peer_id());
      break;
    default:
      tr::logger()->debug("cell_manager: ignoring a message of kind {} from {}",
                          static_cast<int>(msg.kind), life.name);
      break;
    }
  }
}

void cell_manager::handle_deaths() {
  for (const auto peer_id : deaths_->take_all()) {
    const auto it = cells_.find(peer_id);
    if (it != cells_.end() && it->second.at == stage::running)
      begin_dying(it->second);
  }
}

void cell_manager::begin_dying(cell_life& life) {
  auto& transport = *life.transport;
  life.at = stage::dying;
  // The doorbell may hang up a moment before the process is reapable: wait for the
  // pidfd, and kill a cell that lingers on without its doorbell (only SIGKILL is left).
  life.escalation.emplace(options_.exit_grace);
  life.escalation->begin_after(tr::stop_step::sigterm, now());
  auto* child = transport.child();
  if (child == nullptr || child->try_wait())
    finish(transport.peer_id());
}

void cell_manager::finish(std::uint16_t peer_id) {
  auto node = cells_.extract(peer_id);
  auto& life = node.mapped();
  auto& transport = *life.transport;
  take_messages(life); // a goodbye may have arrived with the death
  auto* child = transport.child();
  const auto status = child ? child->status() : std::nullopt;
  const auto pid = child ? child->pid() : -1;
  (void)watch_.unwatch(key_of(peer_id, transport.incarnation()));
  if (const auto it = current_.find(life.name); it != current_.end() && it->second == peer_id)
    current_.erase(it);

  if (life.stopping) {
    tr::logger()->info("cell_manager: {} (peer_id={}) stopped ({})", life.name, peer_id,
                       status_token(status));
    emit(fmt::format("stopped name={} peer_id={} pid={} status={}", life.name, peer_id, pid,
                     status_token(status)));
    return;
  }
  const bool clean =
      transport.goodbye_received() && !transport.violated() && (!status || status->clean());
  const std::string_view cause =
      transport.violated() ? "protocol_violation" : (clean ? "goodbye" : "crashed");
  emit(fmt::format("died name={} peer_id={} incarnation={} pid={} cause={} seen={} status={}",
                   life.name, peer_id, transport.incarnation(), pid, cause, seen_token(transport),
                   status_token(status)));
  if (clean) {
    tr::logger()->info("cell_manager: {} exited cleanly after goodbye; not relaunching", life.name);
  } else if (stopping_) {
    tr::logger()->info("cell_manager: {} died while stopping; not relaunching", life.name);
  } else if (life.recipe.relaunch_count >= options_.max_relaunches) {
    tr::logger()->error("cell_manager: {} died after {} relaunches; giving up", life.name,
                        life.recipe.relaunch_count);
    emit(fmt::format("gave_up name={} peer_id={} relaunches={}", life.name, peer_id,
                     life.recipe.relaunch_count));
  } else {
    schedule_relaunch(std::move(life.name), std::move(life.recipe), peer_id);
  }
  // `node` dies here with the last reference to the transport: the hub recycles the
  // entry (incarnation bumped) once the host endpoint and its leases are gone.
}

void cell_manager::schedule_relaunch(std::string name, cell_recipe recipe,
                                     std::uint16_t old_peer_id) {
  const auto delay = backoff(recipe.relaunch_count);
  ++recipe.relaunch_count;
  tr::logger()->info("cell_manager: relaunching {} (relaunch {} of {}) in {} ms", name,
                     recipe.relaunch_count, options_.max_relaunches, delay.count());
  pending_.push_back({.name = std::move(name),
                      .recipe = std::move(recipe),
                      .old_peer_id = old_peer_id,
                      .due = now() + delay});
}

std::optional<cell_manager::clock::time_point> cell_manager::next_timer() const {
  std::optional<clock::time_point> next;
  auto consider = [&next](clock::time_point at) {
    if (!next || at < *next)
      next = at;
  };
  for (const auto& relaunch : pending_)
    consider(relaunch.due);
  for (const auto& [peer_id, life] : cells_)
    if (life.escalation && life.escalation->next_at())
      consider(*life.escalation->next_at());
  return next;
}

void cell_manager::run_timers() {
  const auto time_now = now();
  for (auto& [peer_id, life] : cells_) {
    const auto step = life.escalation ? life.escalation->due(time_now) : std::nullopt;
    if (!step)
      continue;
    if (life.at == stage::dying)
      tr::logger()->warn("cell_manager: {} (peer_id={}) still runs {} ms after its death was "
                         "seen; sending {}",
                         life.name, peer_id, life.escalation->grace().count(), tr::describe(*step));
    else
      tr::logger()->warn("cell_manager: {} (peer_id={}) still runs {} ms after being asked to "
                         "stop; sending {}",
                         life.name, peer_id, life.escalation->grace().count(), tr::describe(*step));
    (void)tr::take_step(*life.transport, *step);
  }
  // Take the due relaunches out first: relaunching may schedule another one.
  const auto split =
      std::stable_partition(pending_.begin(), pending_.end(),
                            [time_now](const pending_relaunch& r) { return r.due > time_now; });
  std::vector<pending_relaunch> due(std::make_move_iterator(split),
                                    std::make_move_iterator(pending_.end()));
  pending_.erase(split, pending_.end());
  for (auto& relaunch : due)
    this->relaunch(std::move(relaunch));
}

void cell_manager::relaunch(pending_relaunch due) {
  auto spawned = spawn_cell(due.name, due.recipe);
  if (spawned) {
    const auto& life = cells_.at(spawned.value());
    emit(fmt::format("relaunched name={} old_peer_id={} new_peer_id={} incarnation={} "
                     "relaunch={}",
                     due.name, due.old_peer_id, spawned.value(), life.transport->incarnation(),
                     due.recipe.relaunch_count));
    return;
  }
  tr::logger()->error("cell_manager: relaunching {} failed: {}", due.name,
                      spawned.error().message());
  emit(fmt::format("spawn_failed name={} error={}", due.name, tr::to_string(spawned.error().code)));
  // A failed start counts as a relaunch used up.
  if (due.recipe.relaunch_count >= options_.max_relaunches) {
    emit(fmt::format("gave_up name={} peer_id={} relaunches={}", due.name, due.old_peer_id,
                     due.recipe.relaunch_count));
    return;
  }
  schedule_relaunch(std::move(due.name), std::move(due.recipe), due.old_peer_id);
}

} // namespace cellhub::examples
