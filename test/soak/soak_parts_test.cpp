// The soak's checkers, fed by hand: a checker that cannot fail would make every soak
// pass. Each case shows one verdict the soak relies on.
#include "cellhub/demo/request_text.hpp"
#include "cellhub/soak/cell_census.hpp"
#include "cellhub/soak/chaos_plan.hpp"
#include "cellhub/soak/invariant_book.hpp"
#include "cellhub/soak/latency_histogram.hpp"
#include "cellhub/soak/request_ledger.hpp"
#include "cellhub/soak/resource_trend.hpp"
#include "cellhub/soak/soak_cli.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <string>
#include <vector>

namespace soak = cellhub::soak;
namespace demo = cellhub::demo;
namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

ac::lifecycle_event event(ac::event_kind kind, std::string name, std::int32_t pid,
                          caf::optional<ac::life_end> end = {}) {
  ac::lifecycle_event e;
  e.kind = kind;
  e.name = std::move(name);
  e.pid = pid;
  e.end = std::move(end);
  return e;
}

ac::life_end killed_by(int signal) {
  return {.how = ac::ending::killed,
          .status = cellhub::transport::exit_status{.signaled = true, .signal = signal}};
}

ac::life_end exited_with(int code) {
  return {.how = ac::ending::exited, .status = cellhub::transport::exit_status{.code = code}};
}

soak::parsed_command_line parse(std::vector<std::string> args) {
  args.insert(args.begin(), "cellhub-soak");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  return soak::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

} // namespace

BOOST_AUTO_TEST_SUITE(soak_parts)

BOOST_AUTO_TEST_CASE(ledger_reports_a_request_open_past_deadline_and_grace_once) {
  soak::request_ledger ledger{100ms, 50ms};
  const auto t0 = clock_type::now();
  ledger.sent(1, "g-1", t0);
  ledger.sent(2, "g-2", t0 + 100ms);
  BOOST_TEST(ledger.sweep(t0 + 150ms).empty()); // exactly at deadline + grace: still in time
  const auto late = ledger.sweep(t0 + 151ms);
  BOOST_TEST_REQUIRE(late.size() == 1u);
  BOOST_TEST(late.front().id == 1u);
  BOOST_TEST(late.front().target == "g-1");
  BOOST_TEST(ledger.sweep(t0 + 200ms).empty()); // reported once
  ledger.answered(1, true, t0 + 300ms);
  BOOST_TEST(ledger.overdue_count() == 1u);
  BOOST_TEST(ledger.late_count() == 1u);
  BOOST_TEST(ledger.open_count() == 1u);
}

BOOST_AUTO_TEST_CASE(ledger_counts_corrupt_replies_and_failures_by_reason) {
  soak::request_ledger ledger{1s, 0ms};
  const auto t0 = clock_type::now();
  for (std::uint64_t id = 1; id <= 4; ++id)
    ledger.sent(id, "p-1", t0);
  ledger.answered(1, true, t0 + 1ms);
  ledger.answered(2, false, t0 + 2ms);
  ledger.failed(3, "cell_died", t0 + 3ms);
  ledger.failed(4, "cell_died", t0 + 4ms);
  ledger.answered(4, true, t0 + 5ms); // already closed: ignored
  BOOST_TEST(ledger.answered_count() == 1u);
  BOOST_TEST(ledger.corrupt_count() == 1u);
  BOOST_TEST(ledger.failed_count() == 2u);
  BOOST_TEST(ledger.failures().at("cell_died") == 2u);
  BOOST_TEST(ledger.open_count() == 0u);
  BOOST_TEST(ledger.max_open() == 4u);
}

BOOST_AUTO_TEST_CASE(census_calls_a_death_without_a_strike_unprovoked) {
  soak::invariant_book book;
  soak::cell_census census{{"g-1"}, {}};
  const auto now = clock_type::now();
  // Our own pid stands for a live process the census can read.
  census.on_event(event(ac::event_kind::ready, "g-1", ::getpid()), now, book);
  BOOST_TEST(census.all_ready());
  BOOST_TEST(census.eligible().size() == 1u);
  census.on_event(event(ac::event_kind::died, "g-1", ::getpid(), exited_with(1)), now, book);
  BOOST_TEST(census.unprovoked() == 1u);
  BOOST_TEST(!book.record(soak::invariant::no_unprovoked_deaths).held());
  BOOST_TEST(book.record(soak::invariant::chaos_handled).held());
  BOOST_TEST(!census.all_ready());
}

BOOST_AUTO_TEST_CASE(census_accepts_only_the_death_each_strike_must_cause) {
  soak::invariant_book book;
  soak::cell_census census{{"g-1", "g-2"}, {}};
  const auto now = clock_type::now();
  census.on_event(event(ac::event_kind::ready, "g-1", ::getpid()), now, book);
  census.on_event(event(ac::event_kind::ready, "g-2", ::getppid()), now, book);
  census.struck("g-1", soak::chaos_kind::kill, now);
  census.struck("g-2", soak::chaos_kind::garbage, now);
  BOOST_TEST(census.eligible().empty());
  census.on_event(event(ac::event_kind::died, "g-1", ::getpid(), killed_by(9)), now + 1ms, book);
  // Garbage must end as a protocol violation, not as a crash.
  census.on_event(event(ac::event_kind::died, "g-2", ::getppid(), killed_by(9)), now + 1ms, book);
  BOOST_TEST(census.strikes(soak::chaos_kind::kill).ended == 1u);
  BOOST_TEST(census.strikes(soak::chaos_kind::garbage).unexpected == 1u);
  BOOST_TEST(book.record(soak::invariant::chaos_handled).violations == 1u);
  BOOST_TEST(book.record(soak::invariant::no_unprovoked_deaths).held());
}

BOOST_AUTO_TEST_CASE(census_reports_a_strike_whose_life_did_not_end_within_its_bound) {
  soak::invariant_book book;
  soak::census_bounds bounds;
  bounds.linger = 100ms;
  soak::cell_census census{{"p-1"}, bounds};
  const auto now = clock_type::now();
  census.on_event(event(ac::event_kind::ready, "p-1", ::getpid()), now, book);
  census.struck("p-1", soak::chaos_kind::linger, now);
  census.check(now + 100ms, book);
  BOOST_TEST(book.record(soak::invariant::chaos_handled).held());
  census.check(now + 101ms, book);
  census.check(now + 200ms, book);
  BOOST_TEST(book.record(soak::invariant::chaos_handled).violations == 1u);
  BOOST_TEST(census.strikes(soak::chaos_kind::linger).late == 1u);
  BOOST_TEST(census.not_ready().size() == 1u);
}

BOOST_AUTO_TEST_CASE(census_reports_a_process_still_there_after_its_end) {
  soak::invariant_book book;
  soak::census_bounds bounds;
  bounds.gone = 50ms;
  soak::cell_census census{{"g-1"}, bounds};
  const auto now = clock_type::now();
  // Our own process plays a cell whose end is reported while it still runs.
  census.on_event(event(ac::event_kind::ready, "g-1", ::getpid()), now, book);
  census.struck("g-1", soak::chaos_kind::kill, now);
  census.on_event(event(ac::event_kind::died, "g-1", ::getpid(), killed_by(9)), now, book);
  BOOST_TEST(census.tracked_processes().size() == 1u);
  census.check(now + 50ms, book);
  BOOST_TEST(book.record(soak::invariant::nothing_left).held());
  census.check(now + 51ms, book);
  BOOST_TEST(census.processes_lingering() == 1u);
  BOOST_TEST(!book.record(soak::invariant::nothing_left).held());
}

BOOST_AUTO_TEST_CASE(process_identity_with_another_start_time_is_gone) {
  const auto ticks = soak::process_start_ticks(::getpid());
  BOOST_TEST_REQUIRE(ticks.has_value());
  BOOST_TEST(soak::state_if_alive({::getpid(), *ticks}).has_value());
  BOOST_TEST(!soak::state_if_alive({::getpid(), *ticks + 1}).has_value());
}

BOOST_AUTO_TEST_CASE(trend_thins_evenly_and_keeps_the_extremes) {
  soak::resource_trend trend{4};
  for (std::uint64_t i = 0; i < 16; ++i)
    trend.add({std::chrono::milliseconds{i}, i == 5 ? 1000u : i, i});
  BOOST_TEST(trend.count() == 16u);
  BOOST_TEST(trend.samples().size() <= 4u);
  std::vector<std::int64_t> at;
  for (const auto& s : trend.samples())
    at.push_back(s.at.count());
  BOOST_TEST((at == std::vector<std::int64_t>{0, 4, 8, 12}));
  BOOST_TEST(trend.max_rss_kib() == 1000u);
  BOOST_TEST(trend.max_fds() == 15u);
}

BOOST_AUTO_TEST_CASE(histogram_quantiles_are_bucket_bounds_capped_at_the_max) {
  soak::latency_histogram h;
  BOOST_TEST(h.quantile(0.5).count() == 0);
  for (int i = 0; i < 99; ++i)
    h.add(100us);
  h.add(3ms);
  // 100 us falls in [96, 104): eight buckets per power of two.
  BOOST_TEST(h.quantile(0.5).count() == 104);
  BOOST_TEST(h.quantile(0.99).count() == 104);
  BOOST_TEST(h.quantile(1.0).count() == 3000);
  BOOST_TEST((h.max() == 3ms));
}

BOOST_AUTO_TEST_CASE(chaos_plan_strikes_near_its_rate_and_never_at_rate_zero) {
  const auto t0 = clock_type::now();
  soak::chaos_plan plan{{10.0, 0.0, 0.0, 0.0}, 42, t0};
  const auto strikes = plan.due(t0 + 100s);
  // Poisson with mean 1000: six standard deviations either side.
  BOOST_TEST(strikes.size() > 810u);
  BOOST_TEST(strikes.size() < 1190u);
  for (const auto kind : strikes)
    BOOST_TEST((kind == soak::chaos_kind::kill));
  BOOST_TEST(plan.due(t0 + 100s).empty());
}

BOOST_AUTO_TEST_CASE(request_text_depends_on_its_seed_alone) {
  BOOST_TEST((demo::make_request_text(300, 7) == demo::make_request_text(300, 7)));
  BOOST_TEST((demo::make_request_text(300, 7) != demo::make_request_text(300, 8)));
  BOOST_TEST(demo::make_request_text(1, 0).size() == 1u);
}

BOOST_AUTO_TEST_CASE(command_line_refuses_impossible_values_with_exit_code_2) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--kill-rate", "nan"},
                                             {"--stop-rate", "-1"},
                                             {"--load", "1e300"},
                                             {"--cells", "1"},
                                             {"--duration", "0s"},
                                             {"--payload", "2MiB"},
                                             {"--payload", "0"},
                                             {"--stop-min", "3s", "--stop-max", "1s"},
                                             {"--bogus"}})
    BOOST_TEST_CONTEXT("args " << args.front()) {
      const auto parsed = parse(args);
      BOOST_TEST(!parsed.options.has_value());
      BOOST_TEST(parsed.exit_code == soak::exit_code::usage);
    }
  const auto fine = parse({"--payload", "4KiB", "--seed", "9", "--duration", "2s"});
  BOOST_TEST_REQUIRE(fine.options.has_value());
  BOOST_TEST(fine.options->payload == 4096u);
  BOOST_TEST(fine.options->seed == 9u);
  BOOST_TEST(fine.options->duration.count() == 2000);
}

BOOST_AUTO_TEST_SUITE_END()
