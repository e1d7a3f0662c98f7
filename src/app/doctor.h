// `qodo2api doctor` (SPEC §9): checks every configured account once, with the gateway's own
// machinery (the same exchanges, get-things, relay and backends a request uses), and prints one
// line per account: its kind, masked key, what worked, the first failure in plain words, and the
// latency. Accounts come from the configuration and from DATA_DIR's database (its current,
// possibly rotated, tokens; a token rotated during the check is saved there as the gateway would).
#pragma once

#include <ostream>

#include "config/config.h"

namespace app {

// Exit status: 0 when at least one account answered, 1 otherwise.
int runDoctor(const config::Config& config, std::ostream& out);

}  // namespace app
