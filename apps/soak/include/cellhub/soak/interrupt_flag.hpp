#pragma once

#include <atomic>

namespace cellhub::soak {

/// Installs SIGINT and SIGTERM handlers that set the returned flag once (the handler
/// is reset by its first delivery, so a second Ctrl-C ends the process as usual).
/// The soak ends its loaded phase early when the flag is set and still reports.
const std::atomic<bool>& install_interrupt_flag() noexcept;

} // namespace cellhub::soak
