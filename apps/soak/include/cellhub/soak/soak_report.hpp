#pragma once

// The soak's summary: one screen of text, and the same as JSON.

#include "cellhub/soak/soak_record.hpp"

#include <cstdio>
#include <string>

namespace cellhub::soak {

/// Prints the one-screen summary of a concluded run.
void print_summary(std::FILE* out, const soak_record& record);

/// Writes the summary as JSON to `path`; false (with `problem` set) if it cannot.
bool write_json_summary(const std::string& path, const soak_record& record, std::string& problem);

} // namespace cellhub::soak
