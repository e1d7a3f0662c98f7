#include "accounts/selection.h"

namespace accounts {

std::optional<size_t> choose(std::span<const Candidate> candidates,
                             config::AccountStrategy strategy, uint64_t random,
                             int64_t lastChosenId) {
  if (candidates.empty()) {
    return std::nullopt;
  }
  switch (strategy) {
    case config::AccountStrategy::kRandom:
      return static_cast<size_t>(random % candidates.size());
    case config::AccountStrategy::kRoundRobin:
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (candidates[i].id > lastChosenId) {
          return i;
        }
      }
      return 0;
    case config::AccountStrategy::kLeastBusy: {
      size_t best = 0;
      for (size_t i = 1; i < candidates.size(); ++i) {
        const auto& c = candidates[i];
        const auto& b = candidates[best];
        if (c.inFlight != b.inFlight) {
          if (c.inFlight < b.inFlight) {
            best = i;
          }
          continue;
        }
        // Never used sorts first: an unset time is the oldest.
        if (c.lastUsed < b.lastUsed) {
          best = i;
        }
      }
      return best;
    }
  }
  return 0;
}

}  // namespace accounts
