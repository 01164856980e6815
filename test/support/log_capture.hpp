#pragma once

#include "cellhub/transport/log.hpp"

#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::test {

/// Routes the cellhub logger into a string for the life of the object.
class log_capture {
public:
  log_capture()
      : previous_{transport::logger()}
      , sink_{std::make_shared<string_sink>()}
      , capture_{std::make_shared<spdlog::logger>("cellhub", sink_)} {
    capture_->set_level(spdlog::level::trace);
    transport::set_logger(capture_);
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  /// Restores the previous logger. The capture logger itself is kept to the end of the
  /// process: a transport thread (a reaper, a hub's watcher) may still hold it for a
  /// line, and its last release would then free the sink inside libspdlog, which
  /// ThreadSanitizer cannot see synchronise and reports as a race.
  ~log_capture() {
    transport::set_logger(previous_, true);
    static std::mutex retired_mutex;
    static auto* retired = new std::vector<std::shared_ptr<spdlog::logger>>;
    std::lock_guard guard{retired_mutex};
    retired->push_back(std::move(capture_));
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
  class string_sink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::string text() {
      std::lock_guard guard{mutex_};
      return text_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      text_.append(formatted.data(), formatted.size());
    }
    void flush_() override {}

  private:
    std::string text_;
  };

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<string_sink> sink_;
  std::shared_ptr<spdlog::logger> capture_;
};

} // namespace cellhub::test
