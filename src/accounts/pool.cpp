#include "accounts/pool.h"

#include <algorithm>

#include "accounts/selection.h"
#include "obs/secrets.h"

namespace accounts {

AccountPool::AccountPool(PoolOptions options) : options_(options), random_(options.seed) {}

Account* AccountPool::findLocked(int64_t id) {
  auto it = std::lower_bound(accounts_.begin(), accounts_.end(), id,
                             [](const Account& a, int64_t v) { return a.id < v; });
  return it != accounts_.end() && it->id == id ? &*it : nullptr;
}

const Account* AccountPool::findLocked(int64_t id) const {
  return const_cast<AccountPool*>(this)->findLocked(id);
}

void AccountPool::changed(int64_t id) {
  if (observer_ != nullptr) {
    observer_->accountChanged(id);
  }
}

namespace {

bool fits(const Account& a, const Route& route) {
  if (route.kind && a.kind != *route.kind) return false;
  if (route.account && a.id != *route.account) return false;
  return route.model.empty() || serves(a, route.model, route.seedModel);
}

}  // namespace

std::optional<Lease> AccountPool::acquire(std::span<const int64_t> tried, TimePoint now,
                                          Route route) {
  std::lock_guard lock(mutex_);
  std::vector<Candidate> candidates;
  candidates.reserve(accounts_.size());
  for (const auto& a : accounts_) {
    if (!isUsable(a, now) || !fits(a, route)) {
      continue;
    }
    if (std::find(tried.begin(), tried.end(), a.id) != tried.end()) {
      continue;
    }
    candidates.push_back({a.id, a.inFlight, a.lastUsed});
  }
  auto chosen = choose(candidates, options_.strategy, random_(), lastChosenId_);
  if (!chosen) {
    return std::nullopt;
  }
  Account* account = findLocked(candidates[*chosen].id);
  lastChosenId_ = account->id;
  ++account->inFlight;
  const bool command = account->kind == AccountKind::kCommand;
  return Lease{account->id,   account->accessToken, obs::maskSecret(account->refreshToken),
               command,       account->kind,        command ? account->info.baseUrl : ""};
}

bool AccountPool::offers(Route route) const {
  std::lock_guard lock(mutex_);
  for (const auto& a : accounts_) {
    if (fits(a, route)) return true;
  }
  return false;
}

AccountPool::Offer AccountPool::offering(Route route) const {
  route.kind.reset();
  Offer offer;
  std::lock_guard lock(mutex_);
  for (const auto& a : accounts_) {
    if (!fits(a, route)) continue;
    (a.kind == AccountKind::kCommand ? offer.command : offer.chats) = true;
    if (offer.chats && offer.command) break;
  }
  return offer;
}

bool AccountPool::listsModel(std::string_view model) const {
  std::lock_guard lock(mutex_);
  for (const auto& a : accounts_)
    if (a.kind == AccountKind::kCommand && serves(a, model, false)) return true;
  return false;
}

size_t AccountPool::unlistedCommandAccounts() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& a : accounts_)
    if (a.kind == AccountKind::kCommand && a.info.models.empty() &&
        a.status.state != State::kDisabled && a.status.state != State::kInvalid)
      ++n;
  return n;
}

std::vector<std::string> AccountPool::liveModels() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& a : accounts_) {
      if (a.kind != AccountKind::kCommand || a.status.state == State::kDisabled ||
          a.status.state == State::kInvalid)
        continue;
      out.insert(out.end(), a.info.models.begin(), a.info.models.end());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void AccountPool::release(const Lease& lease, Outcome outcome, std::string_view lastError,
                          TimePoint now) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(lease.accountId);
    if (account == nullptr) {
      return;
    }
    account->inFlight = std::max(0, account->inFlight - 1);
    account->status = transition(account->status, outcome, now, options_.lockDuration);
    ++account->requests;
    if (isFailure(outcome)) {
      ++account->failures;
      account->lastError = std::string(lastError);
    }
    account->lastUsed = now;
  }
  changed(lease.accountId);
}

void AccountPool::refreshNow(int64_t id, RefreshCallback done) {
  if (control_ == nullptr) {
    done(std::nullopt);
    return;
  }
  control_->refreshNow(id, std::move(done));
}

std::vector<AccountView> AccountPool::list(TimePoint now) const {
  std::lock_guard lock(mutex_);
  std::vector<AccountView> views;
  views.reserve(accounts_.size());
  for (const auto& a : accounts_) {
    const Status status = effective(a.status, now);
    AccountView v;
    v.id = a.id;
    v.key = obs::maskSecret(a.refreshToken);
    v.state = std::string(stateName(status.state));
    if (status.cooldownUntil) {
      v.cooldownUntil = toStored(a).cooldownUntil;
    }
    v.lastError = a.lastError;
    v.requests = a.requests;
    v.failures = a.failures;
    if (a.lastUsed) {
      v.lastUsed = toUnixSeconds(*a.lastUsed);
    }
    v.kind = a.kind;
    v.models = a.info.models;
    v.quota = a.info.quota;
    v.lastCheck = a.lastCheck;
    views.push_back(std::move(v));
  }
  return views;
}

void AccountPool::add(config::AccountSpec spec, AddCallback done) {
  if (control_ == nullptr) {
    done({std::nullopt, AddError::kUnavailable, "account administration is not running"});
    return;
  }
  control_->add(std::move(spec), std::move(done));
}

bool AccountPool::remove(int64_t id) {
  std::string hash;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(accounts_.begin(), accounts_.end(),
                           [&](const Account& a) { return a.id == id; });
    if (it == accounts_.end()) {
      return false;
    }
    hash = it->originalTokenHash;
    accounts_.erase(it);
  }
  if (observer_ != nullptr) {
    observer_->accountRemoved(id, hash);
  }
  return true;
}

bool AccountPool::enable(int64_t id, TimePoint now) {
  bool exchange = false;
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    exchange = account->status.state == State::kInvalid || !hasValidToken(*account, now);
    account->status = {State::kActive, std::nullopt};
    account->lastError.clear();
  }
  changed(id);
  if (exchange && control_ != nullptr) {
    control_->exchangeSoon(id);
  }
  return true;
}

bool AccountPool::disable(int64_t id) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    account->status = {State::kDisabled, std::nullopt};
  }
  changed(id);
  return true;
}

bool AccountPool::noteCheck(int64_t id, CheckResult result) {
  std::lock_guard lock(mutex_);
  Account* account = findLocked(id);
  if (account == nullptr) return false;
  account->lastCheck = std::move(result);
  return true;
}

StateCounts AccountPool::counts(TimePoint now) const {
  std::lock_guard lock(mutex_);
  StateCounts c;
  for (const auto& a : accounts_) {
    switch (effective(a.status, now).state) {
      case State::kActive:
        ++c.active;
        break;
      case State::kCooling:
        ++c.cooling;
        break;
      case State::kExhausted:
        ++c.exhausted;
        break;
      case State::kInvalid:
        ++c.invalid;
        break;
      case State::kDisabled:
        ++c.disabled;
        break;
    }
    const bool command = a.kind == AccountKind::kCommand;
    c.command += command ? 1 : 0;
    if (isUsable(a, now)) {
      ++c.usable;
      c.usableCommand += command ? 1 : 0;
    }
  }
  return c;
}

void AccountPool::insert(Account account) {
  std::lock_guard lock(mutex_);
  auto it = std::lower_bound(accounts_.begin(), accounts_.end(), account.id,
                             [](const Account& a, int64_t v) { return a.id < v; });
  if (it != accounts_.end() && it->id == account.id) {
    *it = std::move(account);
  } else {
    accounts_.insert(it, std::move(account));
  }
}

std::vector<int64_t> AccountPool::ids() const {
  std::lock_guard lock(mutex_);
  std::vector<int64_t> out;
  out.reserve(accounts_.size());
  for (const auto& a : accounts_) {
    out.push_back(a.id);
  }
  return out;
}

std::optional<Account> AccountPool::find(int64_t id) const {
  std::lock_guard lock(mutex_);
  const Account* account = findLocked(id);
  if (account == nullptr) {
    return std::nullopt;
  }
  return *account;
}

std::optional<int64_t> AccountPool::findByHash(std::string_view originalTokenHash) const {
  std::lock_guard lock(mutex_);
  for (const auto& a : accounts_) {
    if (a.originalTokenHash == originalTokenHash) {
      return a.id;
    }
  }
  return std::nullopt;
}

bool AccountPool::applyToken(int64_t id, std::string accessToken, TimePoint expiry,
                             std::string refreshToken) {
  bool rotated = false;
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    account->accessToken = std::move(accessToken);
    account->accessIssued = Clock::now();
    account->accessExpiry = expiry;
    if (!refreshToken.empty() && refreshToken != account->refreshToken) {
      account->refreshToken = std::move(refreshToken);
      rotated = true;
    }
  }
  if (rotated) {
    changed(id);
  }
  return true;
}

bool AccountPool::applyInfo(int64_t id, CommandInfo info, TimePoint now) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    account->accessToken = account->refreshToken;  // the key is the bearer
    account->accessExpiry.reset();
    const auto& quota = info.quota;
    const State state = effective(account->status, now).state;
    if (quota.remaining && *quota.remaining <= 0 && quota.resetAt &&
        fromUnixSeconds(*quota.resetAt) > now &&
        (state == State::kActive || state == State::kCooling)) {
      // Its quota is used up: it rests until the reset, then serves again by itself.
      account->status = {State::kCooling, fromUnixSeconds(*quota.resetAt)};
      account->lastError = "quota used up until its reset time";
    }
    account->info = std::move(info);
  }
  changed(id);
  return true;
}

bool AccountPool::markInvalid(int64_t id, std::string_view error) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    account->status = {State::kInvalid, std::nullopt};
    account->lastError = std::string(error);
    account->accessToken.clear();
    account->accessExpiry.reset();
  }
  changed(id);
  return true;
}

bool AccountPool::noteError(int64_t id, std::string_view error) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(id);
    if (account == nullptr) {
      return false;
    }
    if (account->lastError == error) {
      return true;
    }
    account->lastError = std::string(error);
  }
  changed(id);
  return true;
}

std::optional<store::StoredAccount> AccountPool::snapshot(int64_t id) const {
  std::lock_guard lock(mutex_);
  const Account* account = findLocked(id);
  if (account == nullptr) {
    return std::nullopt;
  }
  return toStored(*account);
}

void AccountPool::applyShared(const Account& shared) {
  {
    std::lock_guard lock(mutex_);
    Account* account = findLocked(shared.id);
    if (account == nullptr) {
      auto it = std::lower_bound(accounts_.begin(), accounts_.end(), shared.id,
                                 [](const Account& a, int64_t v) { return a.id < v; });
      accounts_.insert(it, shared);
    } else {
      account->kind = shared.kind;
      account->apiKey = shared.apiKey;
      account->refreshToken = shared.refreshToken;
      account->originalTokenHash = shared.originalTokenHash;
      account->status = shared.status;
      account->lastError = shared.lastError;
      account->info = shared.info;
      account->createdAt = shared.createdAt;
      if (account->kind == AccountKind::kCommand) {
        if (!shared.info.models.empty() || !shared.accessToken.empty())
          account->accessToken = account->refreshToken;  // the key is the bearer
      } else if (!shared.accessToken.empty() &&
                 (!account->accessExpiry ||
                  (shared.accessExpiry && *shared.accessExpiry > *account->accessExpiry))) {
        account->accessToken = shared.accessToken;
        account->accessExpiry = shared.accessExpiry;
        account->accessIssued = shared.accessIssued;
      }
      if (account->status.state == State::kInvalid) {
        account->accessToken.clear();
        account->accessExpiry.reset();
      }
    }
  }
  changed(shared.id);
}

void AccountPool::reassign(const std::map<int64_t, int64_t>& ids) {
  std::lock_guard lock(mutex_);
  std::vector<Account> next;
  next.reserve(accounts_.size());
  for (auto& a : accounts_) {
    auto it = ids.find(a.id);
    if (it != ids.end()) {
      if (it->second == 0) continue;
      if (it->second != a.id) a.inFlight = 0;
      a.id = it->second;
    }
    next.push_back(std::move(a));
  }
  std::stable_sort(next.begin(), next.end(),
                   [](const Account& x, const Account& y) { return x.id < y.id; });
  next.erase(std::unique(next.begin(), next.end(),
                         [](const Account& x, const Account& y) { return x.id == y.id; }),
             next.end());
  accounts_ = std::move(next);
}

void AccountPool::noteIssued(int64_t id, TimePoint issued) {
  std::lock_guard lock(mutex_);
  if (Account* account = findLocked(id)) account->accessIssued = issued;
}

}  // namespace accounts
