#include "cellhub/cli/config_error.hpp"

namespace cellhub::cli {

std::string config_error::to_string() const {
  std::string out = file.string();
  // A column without a line would point nowhere, so the column needs the line.
  if (line != 0) {
    out += ':' + std::to_string(line);
    if (column != 0)
      out += ':' + std::to_string(column);
  }
  out += ": ";
  if (!key.empty())
    out += key + ": ";
  out += message;
  return out;
}

} // namespace cellhub::cli
