// The live view of `cellhub run` (and `status`), from lifecycle events alone: a row per
// child the tree holds, and a summary that counts only what really restarts.
#include "cellhub/cli/cluster_view.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace ac = cellhub::actors;
namespace cli = cellhub::cli;

namespace {

ac::lifecycle_event event(ac::event_kind kind, const std::string& name,
                          caf::optional<ac::life_end> end = {}) {
  ac::lifecycle_event e;
  e.kind = kind;
  e.name = name;
  e.supervisor = "root";
  e.peer_id = 1;
  e.incarnation = 1;
  e.pid = 4242;
  e.end = std::move(end);
  return e;
}

// Plays a life to READY.
void start(cli::cluster_view& view, const std::string& name) {
  const auto now = cli::cluster_view::clock::now();
  view.apply(event(ac::event_kind::started, name), now);
  view.apply(event(ac::event_kind::ready, name), now);
}

std::string summary(const cli::cluster_view& view) {
  return view.render_line(cli::cluster_view::clock::now());
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_view_rows)

BOOST_AUTO_TEST_CASE(removed_event_drops_the_row_of_an_ended_temporary_child) {
  cli::cluster_view view;
  const auto now = cli::cluster_view::clock::now();
  start(view, "steady");
  start(view, "temp");
  const ac::life_end killed{.how = ac::ending::killed,
                            .status =
                                cellhub::transport::exit_status{.signaled = true, .signal = 9}};
  view.apply(event(ac::event_kind::died, "temp", killed), now);
  BOOST_TEST(view.rows().size() == 2u);
  BOOST_TEST(has(view.render_table(now), "killed: signal 9 (SIGKILL)"), view.render_table(now));
  view.apply(event(ac::event_kind::removed, "temp"), now);
  const auto rows = view.rows();
  BOOST_TEST_REQUIRE(rows.size() == 1u);
  BOOST_TEST(rows[0].name == "steady");
  BOOST_TEST(view.as_child_infos(now).size() == 1u);
  BOOST_TEST(has(summary(view), "cells=1 running=1 starting=0 restarting=0 down=0"), summary(view));
}

BOOST_AUTO_TEST_CASE(removed_row_comes_back_when_the_name_starts_again) {
  cli::cluster_view view;
  const auto now = cli::cluster_view::clock::now();
  start(view, "hasher-3");
  view.apply(event(ac::event_kind::stopped, "hasher-3", ac::life_end{.how = ac::ending::stopped}),
             now);
  view.apply(event(ac::event_kind::removed, "hasher-3"), now);
  BOOST_TEST(view.rows().empty());
  start(view, "hasher-3");
  BOOST_TEST_REQUIRE(view.rows().size() == 1u);
  BOOST_TEST((view.rows()[0].state == ac::child_state::running));
}

BOOST_AUTO_TEST_CASE(note_stays_under_the_table_through_redraws) {
  cli::cluster_view view;
  start(view, "w");
  view.set_note("stopping (signal); send it again to kill every cell now");
  const auto now = cli::cluster_view::clock::now();
  for (int redraw = 0; redraw < 2; ++redraw) {
    const auto table = view.render_table(now);
    BOOST_TEST(has(table, "\nstopping (signal); send it again to kill every cell now\n"), table);
  }
  BOOST_TEST(!has(view.render_line(now), "stopping"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_view_summary)

BOOST_AUTO_TEST_CASE(child_that_died_without_a_restart_counts_as_down_not_restarting) {
  cli::cluster_view view;
  const auto now = cli::cluster_view::clock::now();
  start(view, "transient");
  view.apply(event(ac::event_kind::died, "transient", ac::life_end{.how = ac::ending::goodbye}),
             now);
  BOOST_TEST(has(summary(view), "cells=1 running=0 starting=0 restarting=0 down=1"), summary(view));
}

BOOST_AUTO_TEST_CASE(child_with_a_restart_announced_counts_as_restarting_until_ready) {
  cli::cluster_view view;
  const auto now = cli::cluster_view::clock::now();
  start(view, "flaky");
  view.apply(event(ac::event_kind::died, "flaky", ac::life_end{.how = ac::ending::killed}), now);
  view.apply(event(ac::event_kind::restarting, "flaky"), now);
  BOOST_TEST(has(summary(view), "running=0 starting=0 restarting=1 down=0 restarts=1"),
             summary(view));
  view.apply(event(ac::event_kind::started, "flaky"), now);
  BOOST_TEST(has(summary(view), "running=0 starting=0 restarting=1 down=0 restarts=1"),
             summary(view));
  view.apply(event(ac::event_kind::ready, "flaky"), now);
  BOOST_TEST(has(summary(view), "running=1 starting=0 restarting=0 down=0 restarts=1"),
             summary(view));
}

BOOST_AUTO_TEST_CASE(first_start_counts_as_starting_and_stopped_or_quarantined_as_down) {
  cli::cluster_view view;
  const auto now = cli::cluster_view::clock::now();
  view.apply(event(ac::event_kind::started, "new"), now);
  start(view, "stopped");
  view.apply(event(ac::event_kind::stopped, "stopped", ac::life_end{.how = ac::ending::stopped}),
             now);
  start(view, "parked");
  view.apply(event(ac::event_kind::died, "parked", ac::life_end{.how = ac::ending::exited}), now);
  view.apply(event(ac::event_kind::quarantined, "parked"), now);
  BOOST_TEST(has(summary(view), "cells=3 running=0 starting=1 restarting=0 down=2"), summary(view));
}

BOOST_AUTO_TEST_SUITE_END()
