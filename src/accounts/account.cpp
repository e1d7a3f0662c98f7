#include "accounts/account.h"

#include <algorithm>

namespace accounts {
namespace {

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace

bool serves(const Account& account, std::string_view model, bool seedModel) {
  if (account.kind == AccountKind::kChats) return seedModel;
  const auto& models = account.info.models;
  return std::find(models.begin(), models.end(), model) != models.end();
}

bool hasValidToken(const Account& account, TimePoint now) {
  return !account.accessToken.empty() && (!account.accessExpiry || now < *account.accessExpiry);
}

bool isUsable(const Account& account, TimePoint now) {
  return effective(account.status, now).state == State::kActive && hasValidToken(account, now);
}

std::string checkModel(const Account& account) {
  if (account.kind == AccountKind::kChats) return "gemini-2.0-flash";
  const auto& models = account.info.models;
  for (std::string_view tier : {"mini", "flash", "haiku", "nano", "lite"})
    for (const auto& m : models)
      if (m.find(tier) != std::string::npos) return m;
  for (const auto& m : models)
    if (m == account.info.defaultModel) return m;
  return models.empty() ? "" : models.front();
}

int64_t toUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint fromUnixSeconds(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

store::StoredAccount toStored(const Account& a) {
  store::StoredAccount row;
  row.id = a.id;
  row.apiKey = a.apiKey;
  row.refreshToken = a.refreshToken;
  row.originalTokenHash = a.originalTokenHash;
  row.state = std::string(stateName(a.status.state));
  if (a.status.cooldownUntil) {
    auto ceil = std::chrono::ceil<std::chrono::seconds>(a.status.cooldownUntil->time_since_epoch());
    row.cooldownUntil = ceil.count();
  }
  row.lastError = a.lastError;
  row.requests = static_cast<int64_t>(a.requests);
  row.failures = static_cast<int64_t>(a.failures);
  if (a.lastUsed) {
    row.lastUsed = toUnixSeconds(*a.lastUsed);
  }
  row.createdAt = toUnixSeconds(a.createdAt);
  row.kind = std::string(config::kindName(a.kind));
  for (const auto& m : a.info.models) {
    if (!row.models.empty()) row.models += '\n';
    row.models += m;
  }
  row.defaultModel = a.info.defaultModel;
  row.baseUrl = a.info.baseUrl;
  row.quotaLimit = a.info.quota.limit;
  row.quotaRemaining = a.info.quota.remaining;
  row.quotaReset = a.info.quota.resetAt;
  return row;
}

Account fromStored(const store::StoredAccount& row) {
  Account a;
  a.id = row.id;
  a.apiKey = row.apiKey;
  a.refreshToken = row.refreshToken;
  a.originalTokenHash = row.originalTokenHash;
  // An unknown name (a newer version's state) reads as active: the account gets a chance and
  // the next outcome sets it right.
  a.status.state = parseState(row.state).value_or(State::kActive);
  if (a.status.state == State::kCooling) {
    if (row.cooldownUntil) {
      a.status.cooldownUntil = fromUnixSeconds(*row.cooldownUntil);
    } else {
      a.status.state = State::kActive;
    }
  }
  a.lastError = row.lastError;
  a.requests = static_cast<uint64_t>(row.requests);
  a.failures = static_cast<uint64_t>(row.failures);
  if (row.lastUsed) {
    a.lastUsed = fromUnixSeconds(*row.lastUsed);
  }
  a.createdAt = fromUnixSeconds(row.createdAt);
  a.kind = row.kind == "command" ? AccountKind::kCommand : AccountKind::kChats;
  a.info.models = splitLines(row.models);
  a.info.defaultModel = row.defaultModel;
  a.info.baseUrl = row.baseUrl;
  a.info.quota = {row.quotaLimit, row.quotaRemaining, row.quotaReset};
  return a;
}

}  // namespace accounts
