#include "cellhub/transport/payload_lease.hpp"

#include "cellhub/transport/endpoint.hpp"

#include <cstring>
#include <utility>

namespace cellhub::transport {

payload_lease::payload_lease(payload_lease&& other) noexcept
    : owner_{std::move(other.owner_)}
    , data_{std::exchange(other.data_, nullptr)}
    , slot_{std::exchange(other.slot_, shm::inline_slot)}
    , length_{std::exchange(other.length_, 0)}
    , inline_{other.inline_} {}

payload_lease& payload_lease::operator=(payload_lease&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    slot_ = std::exchange(other.slot_, shm::inline_slot);
    length_ = std::exchange(other.length_, 0);
    inline_ = other.inline_;
  }
  return *this;
}

payload_lease::~payload_lease() {
  release();
}

std::span<const std::byte> payload_lease::bytes() const noexcept {
  return {owner_ ? data_ : inline_.data(), length_};
}

void payload_lease::release() noexcept {
  if (owner_) {
    owner_->release(slot_);
    owner_.reset();
  }
  data_ = nullptr;
  slot_ = shm::inline_slot;
  length_ = 0;
}

payload_lease payload_lease::from_inline(std::span<const std::byte> bytes) noexcept {
  payload_lease lease;
  lease.length_ = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(lease.inline_.data(), bytes.data(), bytes.size());
  return lease;
}

payload_lease payload_lease::from_slot(std::shared_ptr<endpoint> owner, std::uint32_t slot,
                                       const std::byte* data, std::uint32_t length) noexcept {
  payload_lease lease;
  lease.owner_ = std::move(owner);
  lease.slot_ = slot;
  lease.data_ = data;
  lease.length_ = length;
  return lease;
}

} // namespace cellhub::transport
