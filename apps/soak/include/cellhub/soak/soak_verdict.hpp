#pragma once

#include "cellhub/soak/soak_record.hpp"

namespace cellhub::soak {

/// Judges the end-of-run invariants from the record (RSS and fd flatness, the hub
/// audit, what was left after exit), records their violations, and writes every
/// invariant's figures. Call it once, after the end checks filled `record.end`.
void conclude(soak_record& record);

/// Returns the exit code the record calls for: runtime error, violated or held.
int exit_code_of(const soak_record& record);

} // namespace cellhub::soak
