#pragma once

// A pipe whose two ends a test owns, most often one a child process reports through:
// the child inherits the write end, the test reads until every writer has closed it.

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

namespace cellhub::test {

/// Owns both ends of a close-on-exec pipe and closes those still open when dropped.
struct owned_pipe {
  /// Holds the read end.
  int read_end = -1;
  /// Holds the write end, or -1 once closed. A test may put another descriptor of its
  /// own here (a duplicate at a chosen number), which the pipe then owns.
  int write_end = -1;

  /// Creates the pipe; fails the test if it cannot.
  owned_pipe() {
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  owned_pipe(const owned_pipe&) = delete;
  owned_pipe& operator=(const owned_pipe&) = delete;
  /// Closes both ends.
  ~owned_pipe() {
    close_write_end();
    if (read_end >= 0)
      ::close(read_end);
  }

  /// Closes this process's write end, if still open, so that the read end sees end of
  /// file once every other writer (a child that inherited it) has closed its copy.
  void close_write_end() {
    if (write_end >= 0)
      ::close(std::exchange(write_end, -1));
  }

  /// Closes the write end, then reads until every writer has closed the pipe and
  /// returns what was written; fails the test if that takes longer than `hang_bound`.
  std::string read_all(std::chrono::steady_clock::duration hang_bound) {
    close_write_end();
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + hang_bound;
    for (;;) {
      pollfd entry{read_end, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      BOOST_TEST_REQUIRE(::poll(&entry, 1, static_cast<int>(std::max(left.count(), 0L))) > 0,
                         "pipe not closed in time");
      char buffer[256];
      const auto got = ::read(read_end, buffer, sizeof buffer);
      BOOST_TEST_REQUIRE(got >= 0);
      if (got == 0)
        return text;
      text.append(buffer, static_cast<std::size_t>(got));
    }
  }
};

} // namespace cellhub::test
