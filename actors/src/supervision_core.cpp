#include "cellhub/actors/supervision_core.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cellhub::actors {
namespace {

using command = supervision_command;
using kind = supervision_command::kind;

constexpr std::size_t max_ends = 5;

bool should_restart(restart_type type, ending how) noexcept {
  switch (type) {
  case restart_type::permanent:
    return true;
  case restart_type::transient:
    return !is_clean(how);
  case restart_type::temporary:
    return false;
  }
  return false;
}

backoff_config backoff_of(const child_spec& spec) {
  if (const auto* cell = std::get_if<cell_spec>(&spec.what))
    return cell->backoff;
  return {};
}

intensity_action action_of(const child_spec& spec) {
  if (const auto* cell = std::get_if<cell_spec>(&spec.what))
    return cell->on_intensity;
  return intensity_action::escalate;
}

template <class T>
bool erase_value(std::vector<T>& values, const T& value) {
  auto at = std::find(values.begin(), values.end(), value);
  if (at == values.end())
    return false;
  values.erase(at);
  return true;
}

} // namespace

supervision_core::supervision_core(supervisor_spec spec, std::uint64_t seed)
    : spec_{std::move(spec)}
    , intensity_{spec_.max_restarts, spec_.period}
    , random_{seed} {
  if (spec_.strategy != restart_strategy::simple_one_for_one)
    for (const auto& child : spec_.children)
      add_child(child);
}

std::uint64_t supervision_core::add_child(child_spec spec) {
  const auto id = next_child_id_++;
  auto config = backoff_of(spec);
  children_.push_back(
      supervised_child{id, std::move(spec), child_state::idle, 0, {}, {}, backoff{config}});
  return id;
}

void supervision_core::remove_child(std::uint64_t id, commands* out) {
  cancel_restart_timer(id);
  erase_value(terminating_, id);
  erase_value(removing_, id);
  const auto at = std::find_if(children_.begin(), children_.end(),
                               [id](const supervised_child& c) { return c.id == id; });
  if (at == children_.end())
    return;
  if (out != nullptr)
    out->push_back(command{kind::removed, id, {}, 0, {}, at->spec.name()});
  children_.erase(at);
}

bool supervision_core::any_stopping() const noexcept {
  return std::any_of(children_.begin(), children_.end(),
                     [](const supervised_child& c) { return c.state == child_state::stopping; });
}

supervised_child* supervision_core::lookup(std::uint64_t id) noexcept {
  for (auto& child : children_)
    if (child.id == id)
      return &child;
  return nullptr;
}

const supervised_child* supervision_core::find(std::uint64_t id) const noexcept {
  for (const auto& child : children_)
    if (child.id == id)
      return &child;
  return nullptr;
}

const supervised_child* supervision_core::find(std::string_view name) const noexcept {
  for (const auto& child : children_)
    if (child.spec.name() == name)
      return &child;
  return nullptr;
}

std::size_t supervision_core::position(std::uint64_t id) const noexcept {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].id == id)
      return i;
  return children_.size();
}

void supervision_core::record_end(supervised_child& child, life_end end) {
  child.last_ends.push_back(std::move(end));
  while (child.last_ends.size() > max_ends)
    child.last_ends.pop_front();
}

void supervision_core::cancel_restart_timer(std::uint64_t id) {
  std::erase_if(restart_timers_, [id](const auto& entry) { return entry.second == id; });
}

bool supervision_core::plan_will_start(std::uint64_t id) const noexcept {
  return std::any_of(plan_.begin(), plan_.end(),
                     [id](const step& s) { return s.what == step::op::start && s.child == id; });
}

std::uint64_t supervision_core::arm_timer(std::chrono::nanoseconds delay, commands& out) {
  const auto timer = next_timer_++;
  out.push_back(command{kind::timer, 0, delay, timer, {}});
  return timer;
}

void supervision_core::start_now(supervised_child& child, commands& out) {
  child.state = child_state::starting;
  out.push_back(command{kind::start, child.id, {}, 0, {}});
}

supervision_core::commands supervision_core::start(clock::time_point now) {
  commands out;
  if (spec_.strategy == restart_strategy::simple_one_for_one) {
    // A pool can always be resized, unless it was shut down before it started.
    auto started = resize(spec_.replicas);
    return started ? std::move(started).value() : commands{};
  }
  for (const auto& child : children_)
    plan_.push_back(step{step::op::start, child.id, {}});
  run_plan(now, out);
  return out;
}

void supervision_core::run_plan(clock::time_point now, commands& out) {
  while (!step_in_progress_ && !plan_.empty()) {
    const step next = plan_.front();
    auto* child = lookup(next.child);
    switch (next.what) {
    case step::op::start:
      if (child != nullptr && child->state == child_state::idle) {
        start_now(*child, out);
        step_in_progress_ = true;
        return;
      }
      break;
    case step::op::stop:
      if (child != nullptr) {
        if (child->state == child_state::running || child->state == child_state::starting) {
          child->state = child_state::stopping;
          out.push_back(command{kind::stop, child->id, {}, 0, {}});
          step_in_progress_ = true;
          return;
        }
        if (child->state == child_state::stopping) {
          step_in_progress_ = true; // already on its way down
          return;
        }
        if (child->state == child_state::restarting) {
          cancel_restart_timer(child->id);
          child->state = child_state::idle;
        }
      }
      break;
    case step::op::stop_all: {
      for (auto i = children_.size(); i-- > 0;) {
        auto& each = children_[i];
        if (each.state == child_state::running || each.state == child_state::starting) {
          each.state = child_state::stopping;
          out.push_back(command{kind::stop, each.id, {}, 0, {}});
        } else if (each.state == child_state::restarting) {
          cancel_restart_timer(each.id);
          each.state = child_state::idle;
        }
      }
      if (any_stopping()) {
        step_in_progress_ = true; // on_down completes the step with the last one down
        return;
      }
      break;
    }
    case step::op::wait:
      plan_timer_ = arm_timer(next.delay, out);
      step_in_progress_ = true;
      return;
    case step::op::exit:
      plan_.clear();
      out.push_back(command{kind::exit, 0, {}, 0, {}});
      return;
    }
    plan_.pop_front();
  }
  // The plan is done: failures that happened meanwhile get their turn now.
  while (plan_.empty() && !step_in_progress_ && !deferred_.empty() && !stopping_) {
    auto failure = std::move(deferred_.front());
    deferred_.pop_front();
    if (auto* child = lookup(failure.child); child && child->state == child_state::idle)
      handle_failure(*child, failure.end, now, out);
    run_plan(now, out);
  }
}

supervision_core::commands supervision_core::on_ready(std::uint64_t id, clock::time_point now) {
  commands out;
  auto* child = lookup(id);
  if (child == nullptr || child->state != child_state::starting)
    return out;
  child->state = child_state::running;
  child->ready_since = now;
  child->restart_backoff.on_started(now);
  if (step_in_progress_ && !plan_.empty() && plan_.front().what == step::op::start &&
      plan_.front().child == id) {
    plan_.pop_front();
    step_in_progress_ = false;
  }
  run_plan(now, out);
  return out;
}

void supervision_core::finish_stop(supervised_child& child, commands& out) {
  if (erase_value(removing_, child.id)) {
    remove_child(child.id, &out);
    return;
  }
  if (erase_value(terminating_, child.id)) {
    if (child.spec.restart() == restart_type::temporary)
      remove_child(child.id, &out);
    else
      child.state = child_state::stopped;
    return;
  }
  // A temporary child stopped by a group restart is not started again (OTP).
  if (child.spec.restart() == restart_type::temporary && !stopping_) {
    remove_child(child.id, &out);
    return;
  }
  child.state = child_state::idle;
}

supervision_core::commands supervision_core::on_down(std::uint64_t id, life_end end,
                                                     clock::time_point now) {
  commands out;
  auto* child = lookup(id);
  // Only a child with a life can end; anything else is a stale report.
  if (child == nullptr ||
      (child->state != child_state::starting && child->state != child_state::running &&
       child->state != child_state::stopping))
    return out;
  record_end(*child, end);
  if (child->ready_since) {
    child->restart_backoff.note_uptime(now - *child->ready_since);
    child->ready_since.reset();
  }
  const bool plan_waits_for_it = step_in_progress_ && !plan_.empty() && plan_.front().child == id &&
                                 plan_.front().what != step::op::wait &&
                                 plan_.front().what != step::op::stop_all;
  const auto previous = child->state;

  if (previous == child_state::stopping || stopping_) {
    // A stop we asked for completed (or the child beat us to it during shutdown).
    finish_stop(*child, out);
    const bool all_stopped = step_in_progress_ && !plan_.empty() &&
                             plan_.front().what == step::op::stop_all && !any_stopping();
    if (plan_waits_for_it || all_stopped) {
      plan_.pop_front();
      step_in_progress_ = false;
    }
    run_plan(now, out);
    return out;
  }
  if (plan_waits_for_it) {
    // It died while the plan waited for its READY: the group restart failed; the
    // failure decides what happens next.
    plan_.clear();
    step_in_progress_ = false;
    child->state = child_state::idle;
  } else if ((step_in_progress_ || !plan_.empty()) &&
             (spec_.strategy == restart_strategy::one_for_all ||
              spec_.strategy == restart_strategy::rest_for_one)) {
    // A group restart is under way; this failure gets its turn when it ends.
    // (Under one_for_one a failure concerns its child alone and is handled at once.)
    child->state = child_state::idle;
    if (!plan_will_start(id))
      deferred_.push_back({id, std::move(end)});
    return out;
  }
  child->state = child_state::idle;
  handle_failure(*child, end, now, out);
  run_plan(now, out);
  return out;
}

void supervision_core::handle_failure(supervised_child& child, const life_end& end,
                                      clock::time_point now, commands& out) {
  if (!should_restart(child.spec.restart(), end.how)) {
    if (child.spec.restart() == restart_type::temporary)
      remove_child(child.id, &out);
    else
      child.state = child_state::stopped;
    return;
  }
  if (!intensity_.add_restart(now)) {
    if (action_of(child.spec) == intensity_action::quarantine) {
      child.state = child_state::quarantined;
      out.push_back(command{kind::quarantine, child.id, {}, 0, end});
      return;
    }
    out.push_back(command{kind::escalate, child.id, {}, 0, end});
    begin_shutdown();
    return;
  }
  ++child.restarts;
  const auto delay = child.restart_backoff.next_delay(random_);
  out.push_back(command{kind::restarting, child.id, delay, 0, {}});
  switch (spec_.strategy) {
  case restart_strategy::one_for_one:
  case restart_strategy::simple_one_for_one:
    child.state = child_state::restarting;
    restart_timers_.emplace_back(arm_timer(delay, out), child.id);
    return;
  case restart_strategy::one_for_all:
  case restart_strategy::rest_for_one: {
    const auto first = spec_.strategy == restart_strategy::one_for_all ? 0 : position(child.id);
    for (auto i = children_.size(); i-- > first;)
      if (children_[i].id != child.id)
        plan_.push_back(step{step::op::stop, children_[i].id, {}});
    plan_.push_back(step{step::op::wait, 0, delay});
    for (auto i = first; i < children_.size(); ++i)
      plan_.push_back(step{step::op::start, children_[i].id, {}});
    return;
  }
  }
}

supervision_core::commands supervision_core::on_timer(std::uint64_t timer, clock::time_point now) {
  commands out;
  if (timer == plan_timer_ && step_in_progress_ && !plan_.empty() &&
      plan_.front().what == step::op::wait) {
    plan_timer_ = 0;
    plan_.pop_front();
    step_in_progress_ = false;
    run_plan(now, out);
    return out;
  }
  auto at = std::find_if(restart_timers_.begin(), restart_timers_.end(),
                         [timer](const auto& entry) { return entry.first == timer; });
  if (at == restart_timers_.end())
    return out;
  const auto id = at->second;
  restart_timers_.erase(at);
  if (auto* child = lookup(id); child && child->state == child_state::restarting && !stopping_)
    start_now(*child, out);
  return out;
}

void supervision_core::begin_shutdown() {
  stopping_ = true;
  plan_.clear();
  step_in_progress_ = false;
  plan_timer_ = 0;
  deferred_.clear();
  for (const auto& [timer, id] : restart_timers_)
    if (auto* child = lookup(id))
      child->state = child_state::idle;
  restart_timers_.clear();
  if (spec_.strategy == restart_strategy::simple_one_for_one) {
    // OTP stops simple_one_for_one children concurrently: replicas do not depend on
    // one another, and one at a time would cost each stubborn cell two timeouts.
    plan_.push_back(step{step::op::stop_all, 0, {}});
  } else {
    for (auto i = children_.size(); i-- > 0;)
      plan_.push_back(step{step::op::stop, children_[i].id, {}});
  }
  plan_.push_back(step{step::op::exit, 0, {}});
}

supervision_core::commands supervision_core::shutdown(clock::time_point now) {
  commands out;
  if (stopping_)
    return out;
  begin_shutdown();
  run_plan(now, out);
  return out;
}

core_result<supervision_core::commands> supervision_core::restart_child(std::uint64_t id) {
  commands out;
  auto* child = lookup(id);
  if (child == nullptr)
    return errc::unknown_child;
  if (stopping_)
    return errc::shutting_down;
  switch (child->state) {
  case child_state::quarantined:
    child->restart_backoff.reset();
    [[fallthrough]];
  case child_state::stopped:
  case child_state::idle:
    if (plan_will_start(id))
      return errc::restarting;
    start_now(*child, out);
    return out;
  case child_state::restarting:
    return errc::restarting;
  case child_state::starting:
  case child_state::running:
  case child_state::stopping:
    return errc::running;
  }
  return out;
}

core_result<supervision_core::commands> supervision_core::terminate_child(std::uint64_t id) {
  commands out;
  auto* child = lookup(id);
  if (child == nullptr)
    return errc::unknown_child;
  switch (child->state) {
  case child_state::starting:
  case child_state::running:
    child->state = child_state::stopping;
    terminating_.push_back(id);
    out.push_back(command{kind::stop, id, {}, 0, {}});
    return out;
  case child_state::stopping:
    if (std::find(terminating_.begin(), terminating_.end(), id) == terminating_.end())
      terminating_.push_back(id);
    return out;
  case child_state::restarting:
  case child_state::idle:
  case child_state::stopped:
  case child_state::quarantined:
    cancel_restart_timer(id);
    if (child->spec.restart() == restart_type::temporary)
      remove_child(id, &out);
    else
      child->state = child_state::stopped;
    return out;
  }
  return out;
}

core_result<void> supervision_core::delete_child(std::uint64_t id) {
  const auto* child = lookup(id);
  if (child == nullptr)
    return errc::unknown_child;
  if (spec_.strategy == restart_strategy::simple_one_for_one)
    return errc::simple_one_for_one;
  if (child->state == child_state::restarting || plan_will_start(id))
    return errc::restarting;
  if (child->state != child_state::stopped && child->state != child_state::quarantined &&
      child->state != child_state::idle)
    return errc::running;
  remove_child(id, nullptr);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

core_result<supervision_core::commands> supervision_core::resize(std::size_t replicas) {
  commands out;
  if (spec_.strategy != restart_strategy::simple_one_for_one)
    return errc::not_a_pool;
  if (stopping_)
    return errc::shutting_down;
  // Replicas already on their way out do not count.
  std::size_t current = children_.size() - removing_.size();
  const auto& templ = std::get<cell_spec>(spec_.children.front().what);
  while (current < replicas) {
    auto replica = templ;
    replica.name = fmt::format("{}-{}", templ.name, next_replica_++);
    const auto id = add_child(std::move(replica));
    start_now(*lookup(id), out);
    ++current;
  }
  for (auto i = children_.size(); current > replicas && i-- > 0;) {
    auto& child = children_[i];
    if (std::find(removing_.begin(), removing_.end(), child.id) != removing_.end())
      continue;
    --current;
    if (child.state == child_state::running || child.state == child_state::starting ||
        child.state == child_state::stopping) {
      if (child.state != child_state::stopping)
        out.push_back(command{kind::stop, child.id, {}, 0, {}});
      child.state = child_state::stopping;
      removing_.push_back(child.id);
    } else {
      remove_child(child.id, &out);
    }
  }
  return out;
}

} // namespace cellhub::actors
