// Which usable account serves the next request (ACCOUNT_STRATEGY): a pure choice among
// candidates, so strategies are tested without a pool, threads or randomness.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "accounts/state.h"
#include "config/config.h"

namespace accounts {

struct Candidate {
  int64_t id = 0;
  int inFlight = 0;
  std::optional<TimePoint> lastUsed;
};

// `candidates` are ordered by id. `random` is a fresh random number (kRandom); `lastChosenId`
// the account the previous acquire chose (kRoundRobin). kLeastBusy takes the fewest leases in
// flight, then the longest unused. Returns an index into `candidates`, nullopt when empty.
std::optional<size_t> choose(std::span<const Candidate> candidates,
                             config::AccountStrategy strategy, uint64_t random,
                             int64_t lastChosenId);

}  // namespace accounts
