// One Qodo account as the pool holds it: identity, tokens, state and counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "accounts/state.h"
#include "config/config.h"
#include "store/account_store.h"

namespace accounts {

using config::AccountKind;

// A command account's quota, from get-things' x-ratelimit-* headers (each absent when not sent).
struct Quota {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> resetAt;  // Unix seconds
  bool operator==(const Quota&) const = default;
};

// What get-things says about a command account (SPEC §9).
struct CommandInfo {
  std::vector<std::string> models;
  std::string defaultModel;
  std::string baseUrl;  // the tenant base URL the answer came from (after redirects)
  Quota quota;
};

// The last tiny real request made to check the account (SPEC §8: admin test, background checks).
struct CheckResult {
  int64_t at = 0;  // Unix seconds
  bool ok = false;
  int64_t latencyMs = 0;
  std::string model;
  std::string detail;  // the answer's text when ok, else the error; never holds secrets
};

struct Account {
  int64_t id = 0;  // stable, from the database
  AccountKind kind = AccountKind::kChats;
  std::string apiKey;             // chats: the Firebase web API key
  std::string refreshToken;       // chats: current, rotates; command: the Qodo API key
  std::string originalTokenHash;  // sha256Hex of the refresh token first configured
  // Empty until the first exchange (chats) or get-things (command: then the key) succeeded.
  std::string accessToken;
  std::optional<TimePoint> accessExpiry;
  std::optional<TimePoint> accessIssued;  // when the exchange that produced it answered
  Status status;
  std::string lastError;  // never holds secrets
  uint64_t requests = 0;
  uint64_t failures = 0;
  std::optional<TimePoint> lastUsed;
  TimePoint createdAt{};
  int inFlight = 0;  // leases not yet released
  // Command accounts: what the last get-things said (persisted, shown to the admin).
  CommandInfo info;
  std::optional<CheckResult> lastCheck;  // in memory only
};

// The model a check asks: for a command account the first listed model that names a small
// tier (mini, flash, haiku, nano, lite), else its default model, else its first; for a chats
// account the seed table's gemini-2.0-flash. Empty when a command account lists nothing yet.
std::string checkModel(const Account& account);

// Whether `account` may serve `model`. Chats accounts serve the seed table's models
// (`seedModel`); command accounts the models their get-things listed.
bool serves(const Account& account, std::string_view model, bool seedModel);

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
