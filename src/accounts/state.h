// An account's state machine (SPEC §4): what one backend outcome does to an account, as a pure
// function of (status, outcome, now, lock duration) so every rule is tested with a fake clock.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace accounts {

// Wall-clock time: cool-downs are persisted as Unix seconds and must survive a restart.
using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

enum class State {
  kActive,     // in rotation
  kCooling,    // rate-limited: out of rotation until cooldownUntil, then active again
  kExhausted,  // usage limit reached: out of rotation until an admin enables it
  kInvalid,    // refresh token rejected, or still 401 after a fresh token: until enabled
  kDisabled,   // taken out of rotation by an admin: until enabled; no outcome changes it
};

// What one backend call (or lease) did, as the relay classifies it.
enum class Outcome {
  kSuccess,
  kRateLimited,     // 429 / "Too many concurrent requests": rests for the lock duration
  kUsageExhausted,  // "Usage limit exceeded"
  // 401 / "Invalid token" with an access token that refreshNow() just produced. The first 401 is
  // not an outcome: the relay keeps its lease, calls AccountPool::refreshNow and retries the same
  // account with the new token; only the second 401 is released with this.
  kInvalidToken,
  kFailure,  // 403, 5xx, connection, TLS, timeout, garbage: counted, state unchanged
  kNeutral,  // the client's problem (e.g. Chinese detected): no penalty, no failure counted
};

struct Status {
  State state = State::kActive;
  std::optional<TimePoint> cooldownUntil;  // set only while cooling
  bool operator==(const Status&) const = default;
};

// Cooling whose end has passed reads as active; every other status is returned as it is.
Status effective(const Status& status, TimePoint now);

// The status after `outcome`. Exhausted and invalid are sticky (only an admin lifts them), and
// invalid outranks exhausted; a rate limit during a cool-down extends it. Disabled stays.
Status transition(const Status& status, Outcome outcome, TimePoint now,
                  std::chrono::seconds lockDuration);

// Whether `outcome` counts in the account's failures counter.
bool isFailure(Outcome outcome);

// "active", "cooling", "exhausted", "invalid", "disabled"
std::string_view stateName(State state);
std::optional<State> parseState(std::string_view name);
std::string_view outcomeName(Outcome outcome);

}  // namespace accounts
