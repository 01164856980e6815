#pragma once

// Private to the transport library: lets Boost.Interprocess map a memory object that
// arrives as a plain file descriptor (a memfd handed over a doorbell) rather than
// as a name, which is what every Boost.Interprocess mappable type is opened by.

#include <boost/interprocess/detail/os_file_functions.hpp>
#include <boost/interprocess/interprocess_fwd.hpp>

namespace cellhub::transport::detail {

/// Models Boost.Interprocess's MemoryMappable over a descriptor it does not own, so
/// that `boost::interprocess::mapped_region` can map it.
class fd_mappable {
public:
  /// Wraps `fd`, which must stay open while a region is being mapped from it.
  fd_mappable(int fd, boost::interprocess::mode_t mode) noexcept
      : fd_{fd}
      , mode_{mode} {}

  /// Returns the handle `mapped_region` maps (the descriptor).
  [[nodiscard]] boost::interprocess::mapping_handle_t get_mapping_handle() const noexcept {
    return boost::interprocess::ipcdetail::mapping_handle_from_file_handle(fd_);
  }

  /// Returns the access the descriptor was opened with.
  [[nodiscard]] boost::interprocess::mode_t get_mode() const noexcept { return mode_; }

private:
  int fd_;
  boost::interprocess::mode_t mode_;
};

} // namespace cellhub::transport::detail
