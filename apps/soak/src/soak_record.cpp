#include "cellhub/soak/soak_record.hpp"

namespace cellhub::soak {

soak_record::soak_record(soak_options run_options, std::vector<std::string> names,
                         census_bounds bounds, std::FILE* live_violations)
    : options{std::move(run_options)}
    , book{live_violations}
    , ledger{options.deadline, options.grace}
    , census{std::move(names), bounds} {}

} // namespace cellhub::soak
