// One Qodo account as the pool holds it: identity, tokens, state and counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "accounts/state.h"
#include "store/account_store.h"

namespace accounts {

struct Account {
  int64_t id = 0;  // stable, from the database
  std::string apiKey;
  std::string refreshToken;       // current; rotates when Firebase hands out a new one
  std::string originalTokenHash;  // sha256Hex of the refresh token first configured
  std::string accessToken;        // empty until the first exchange succeeded
  std::optional<TimePoint> accessExpiry;
  Status status;
  std::string lastError;  // never holds secrets
  uint64_t requests = 0;
  uint64_t failures = 0;
  std::optional<TimePoint> lastUsed;
  TimePoint createdAt{};
  int inFlight = 0;  // leases not yet released
};

// An access token that the backend will still accept at `now`.
bool hasValidToken(const Account& account, TimePoint now);

// In rotation at `now`: active (or cooled down) and holding a valid access token.
bool isUsable(const Account& account, TimePoint now);

// Between the pool and its database row. The access token is not stored: it lives an hour and
// is exchanged again at start-up. Cool-down ends round up to the next second so that a restart
// never shortens a rest.
store::StoredAccount toStored(const Account& account);
Account fromStored(const store::StoredAccount& row);

int64_t toUnixSeconds(TimePoint t);
TimePoint fromUnixSeconds(int64_t seconds);

}  // namespace accounts
