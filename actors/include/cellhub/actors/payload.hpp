#pragma once

#include "cellhub/transport/payload_lease.hpp"

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace cellhub::actors {

/// Carries message bytes between actors and cells. A payload received from a cell
/// wraps its zero-copy lease (the slot returns when the last copy goes); one built
/// by an actor owns its bytes. Copies share the bytes; they are immutable.
class payload {
public:
  /// Creates an empty payload.
  payload() = default;

  /// Wraps a lease on a cell's slot without copying it.
  explicit payload(transport::payload_lease lease)
      : data_{std::make_shared<const holder>(std::move(lease))} {}

  /// Takes ownership of `bytes`.
  explicit payload(std::vector<std::byte> bytes)
      : data_{std::make_shared<const holder>(std::move(bytes))} {}

  /// Copies `bytes` into a new payload.
  static payload copy_of(std::span<const std::byte> bytes) {
    return payload{std::vector<std::byte>(bytes.begin(), bytes.end())};
  }

  /// Copies the characters of `text` into a new payload.
  static payload from_string(std::string_view text) {
    return copy_of(std::as_bytes(std::span{text.data(), text.size()}));
  }

  /// Returns the bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    if (!data_)
      return {};
    if (const auto* lease = std::get_if<transport::payload_lease>(data_.get()))
      return lease->bytes();
    const auto& owned = std::get<std::vector<std::byte>>(*data_);
    return {owned.data(), owned.size()};
  }

  /// Returns the bytes seen as characters.
  [[nodiscard]] std::string_view as_string() const noexcept {
    const auto b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  /// Returns the length.
  [[nodiscard]] std::size_t size() const noexcept { return bytes().size(); }

  /// Tells whether the bytes still live in a cell's shared-memory slot.
  [[nodiscard]] bool zero_copy() const noexcept {
    return data_ && std::holds_alternative<transport::payload_lease>(*data_);
  }

  /// Serializes the bytes (a copy; leases do not cross process boundaries).
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, payload& x) {
    const auto view = x.bytes();
    std::vector<std::uint8_t> raw(reinterpret_cast<const std::uint8_t*>(view.data()),
                                  reinterpret_cast<const std::uint8_t*>(view.data()) + view.size());
    auto load = caf::meta::load_callback([&]() -> caf::error {
      std::vector<std::byte> bytes(raw.size());
      if (!raw.empty())
        std::memcpy(bytes.data(), raw.data(), raw.size());
      x = payload{std::move(bytes)};
      return caf::none;
    });
    return f(caf::meta::type_name("cellhub_payload"), raw, load);
  }

private:
  using holder = std::variant<transport::payload_lease, std::vector<std::byte>>;
  std::shared_ptr<const holder> data_;
};

} // namespace cellhub::actors
