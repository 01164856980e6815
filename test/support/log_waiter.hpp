#pragma once

// A log capture a test can wait on: for what another thread (a reaper, a keeper)
// reports only through the log.

#include "cellhub/transport/log.hpp"

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace cellhub::test {

/// Routes the cellhub logger (every level) into a string for the life of the object,
/// and lets a test wait until a text shows up.
class log_waiter {
public:
  log_waiter()
      : previous_{transport::logger()}
      , sink_{std::make_shared<waiting_sink>()}
      , capture_{std::make_shared<spdlog::logger>("cellhub", sink_)} {
    capture_->set_level(spdlog::level::trace);
    transport::set_logger(capture_);
  }
  log_waiter(const log_waiter&) = delete;
  log_waiter& operator=(const log_waiter&) = delete;
  ~log_waiter() {
    transport::set_logger(previous_, true);
    // A thread that was logging (a reaper, a keeper) may still hold a copy of the
    // capture. Let it go first, so the capture ends here, on the test's thread:
    // ThreadSanitizer cannot see the reference counting inside libspdlog and would
    // take the other thread's last release for a race.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (capture_.use_count() > 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  }

  /// Waits until `needle` has been logged or `bound` passes; returns whether it was.
  bool wait_for(std::string_view needle, std::chrono::milliseconds bound) const {
    return sink_->wait_for(needle, bound);
  }

  /// Returns everything logged so far.
  std::string text() const { return sink_->text(); }

  /// Counts the occurrences of `needle`.
  std::size_t count(std::string_view needle) const {
    const auto all = text();
    std::size_t n = 0;
    for (auto at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1))
      ++n;
    return n;
  }

private:
  class waiting_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::string text() {
      std::lock_guard guard{mutex_};
      return text_;
    }

    bool wait_for(std::string_view needle, std::chrono::milliseconds bound) {
      std::unique_lock lock{mutex_};
      return logged_.wait_for(lock, bound, [&] { return text_.find(needle) != std::string::npos; });
    }

  protected:
    // Called with `mutex_` held by base_sink.
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      text_.append(formatted.data(), formatted.size());
      logged_.notify_all();
    }
    void flush_() override {}

  private:
    std::string text_;
    std::condition_variable logged_;
  };

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<waiting_sink> sink_;
  std::shared_ptr<spdlog::logger> capture_;
};

} // namespace cellhub::test
