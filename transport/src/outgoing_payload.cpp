#include "cellhub/transport/outgoing_payload.hpp"

#include "cellhub/transport/endpoint.hpp"

#include <utility>

namespace cellhub::transport {

outgoing_payload::outgoing_payload(std::shared_ptr<endpoint> owner, std::uint32_t slot,
                                   std::byte* data, std::uint32_t length) noexcept
    : owner_{std::move(owner)}
    , data_{data}
    , slot_{slot}
    , length_{length} {}

outgoing_payload::outgoing_payload(outgoing_payload&& other) noexcept
    : owner_{std::move(other.owner_)}
    , data_{std::exchange(other.data_, nullptr)}
    , slot_{std::exchange(other.slot_, shm::inline_slot)}
    , length_{std::exchange(other.length_, 0)}
    , inline_{other.inline_} {}

outgoing_payload& outgoing_payload::operator=(outgoing_payload&& other) noexcept {
  if (this != &other) {
    abandon();
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    slot_ = std::exchange(other.slot_, shm::inline_slot);
    length_ = std::exchange(other.length_, 0);
    inline_ = other.inline_;
  }
  return *this;
}

outgoing_payload::~outgoing_payload() {
  abandon();
}

std::span<std::byte> outgoing_payload::bytes() noexcept {
  return {slot_ == shm::inline_slot ? inline_.data() : data_, length_};
}

void outgoing_payload::abandon() noexcept {
  if (owner_ && slot_ != shm::inline_slot)
    owner_->give_back(slot_);
  owner_.reset();
  slot_ = shm::inline_slot;
  data_ = nullptr;
  length_ = 0;
}

} // namespace cellhub::transport
