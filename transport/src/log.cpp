#include "cellhub/transport/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <string_view>

namespace cellhub::transport {
namespace {

// Writes the level as the short upper-case word operators grep for (WARN, not warning).
class level_word final : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view word = [&] {
      switch (msg.level) {
      case spdlog::level::trace:
        return "TRACE";
      case spdlog::level::debug:
        return "DEBUG";
      case spdlog::level::info:
        return "INFO";
      case spdlog::level::warn:
        return "WARN";
      case spdlog::level::err:
        return "ERROR";
      case spdlog::level::critical:
        return "CRIT";
      default:
        return "LOG";
      }
    }();
    dest.append(word.data(), word.data() + word.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<level_word>();
  }
};

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> current;

} // namespace

void apply_pattern(spdlog::logger& target) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<level_word>('*').set_pattern("%H:%M:%S.%f %* %v");
  target.set_formatter(std::move(formatter));
}

std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard guard{logger_mutex};
  if (!current) {
    current = std::make_shared<spdlog::logger>(
        "cellhub", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    apply_pattern(*current);
  }
  return current;
}

void set_logger(std::shared_ptr<spdlog::logger> replacement, bool keep_pattern) {
  if (replacement && !keep_pattern)
    apply_pattern(*replacement);
  std::lock_guard guard{logger_mutex};
  current = std::move(replacement);
}

} // namespace cellhub::transport
