#include "accounts/state.h"

namespace accounts {

Status effective(const Status& status, TimePoint now) {
  if (status.state == State::kCooling && (!status.cooldownUntil || now >= *status.cooldownUntil)) {
    return {State::kActive, std::nullopt};
  }
  return status;
}

Status transition(const Status& status, Outcome outcome, TimePoint now,
                  std::chrono::seconds lockDuration) {
  const Status current = effective(status, now);
  if (current.state == State::kDisabled) {
    return current;
  }
  const bool sticky = current.state == State::kExhausted || current.state == State::kInvalid;
  switch (outcome) {
    case Outcome::kSuccess:
    case Outcome::kFailure:
    case Outcome::kNeutral:
      return current;
    case Outcome::kRateLimited:
      if (sticky) {
        return current;
      }
      return {State::kCooling, now + lockDuration};
    case Outcome::kUsageExhausted:
      if (current.state == State::kInvalid) {
        return current;
      }
      return {State::kExhausted, std::nullopt};
    case Outcome::kInvalidToken:
      return {State::kInvalid, std::nullopt};
  }
  return current;
}

bool isFailure(Outcome outcome) {
  return outcome != Outcome::kSuccess && outcome != Outcome::kNeutral;
}

std::string_view stateName(State state) {
  switch (state) {
    case State::kActive:
      return "active";
    case State::kCooling:
      return "cooling";
    case State::kExhausted:
      return "exhausted";
    case State::kInvalid:
      return "invalid";
    case State::kDisabled:
      return "disabled";
  }
  return "invalid";
}

std::optional<State> parseState(std::string_view name) {
  for (State s :
       {State::kActive, State::kCooling, State::kExhausted, State::kInvalid, State::kDisabled}) {
    if (stateName(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kRateLimited:
      return "rate_limited";
    case Outcome::kUsageExhausted:
      return "usage_exhausted";
    case Outcome::kInvalidToken:
      return "invalid_token";
    case Outcome::kFailure:
      return "failure";
    case Outcome::kNeutral:
      return "neutral";
  }
  return "failure";
}

}  // namespace accounts
