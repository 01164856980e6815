#pragma once

#include "cellhub/transport/error.hpp"

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>

namespace cellhub::transport {

namespace outcome = BOOST_OUTCOME_V2_NAMESPACE;

/// Holds either a value of type `T` or a transport `error`; never throws.
template <class T>
using result = outcome::result<T, error, outcome::policy::terminate>;

/// Returns the success value for `result<void>`.
inline auto success() noexcept {
  return outcome::success();
}

} // namespace cellhub::transport
