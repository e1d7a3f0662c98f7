// The account pool shared by every worker: which account serves a request (acquire), what the
// backend's answer did to it (release), and the admin's view and actions. Thread-safe with short
// critical sections; nothing under its lock does I/O. Token exchanges and persistence belong to
// the control thread and are reached through AccountControl and PoolObserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/account.h"
#include "accounts/state.h"
#include "config/config.h"
#include "store/account_store.h"

namespace accounts {

// One request's hold on an account, from acquire to release. After refreshNow() handed out a new
// access token, the relay replaces accessToken and sets refreshed before retrying, so a second
// 401 on a refreshed lease is released as Outcome::kInvalidToken.
// A command account's lease has its API key as the access token and is `refreshed` from the
// start: no refresh exists, so its first 401 is final.
struct Lease {
  int64_t accountId = 0;
  std::string accessToken;
  std::string maskedKey;  // for logs: obs::maskSecret of the refresh token
  bool refreshed = false;
  AccountKind kind = AccountKind::kChats;
  std::string baseUrl;  // command: the tenant base URL, empty for the configured one
};

// Which accounts may serve a request: an empty `model` means any. `seedModel`: the model is in
// the seed table (chats accounts serve it); `kind`: only accounts of that kind (a request with
// images needs a command account).
struct Route {
  std::string_view model;
  bool seedModel = true;
  std::optional<AccountKind> kind;
  std::optional<int64_t> account;  // only this account (doctor, account tests)
};

// What GET /admin/accounts shows. Times are Unix seconds.
struct AccountView {
  int64_t id = 0;
  std::string key;  // first 6 characters of the refresh token, then "…"
  std::string state;
  std::optional<int64_t> cooldownUntil;
  std::string lastError;
  uint64_t requests = 0;
  uint64_t failures = 0;
  std::optional<int64_t> lastUsed;
  AccountKind kind = AccountKind::kChats;
  std::vector<std::string> models;  // command: what get-things listed (chats: the seed table)
  Quota quota;                      // command accounts only
  std::optional<CheckResult> lastCheck;
};

// Accounts by effective state; `usable` = active with a valid access token (/readyz: > 0).
struct StateCounts {
  size_t active = 0;
  size_t cooling = 0;
  size_t exhausted = 0;
  size_t invalid = 0;
  size_t disabled = 0;
  size_t usable = 0;
  size_t command = 0;        // of them, command accounts (the rest are chats accounts)
  size_t usableCommand = 0;  // of the usable, command accounts
  size_t total() const { return active + cooling + exhausted + invalid + disabled; }
};

enum class AddError {
  kNone,
  kInvalidToken,    // Firebase rejected the refresh token (HTTP 400)
  kDuplicate,       // that refresh token is already in the pool
  kExchangeFailed,  // network or Firebase 5xx: try again later (HTTP 502)
  kStorage,         // the database refused the row (HTTP 500)
  kUnavailable,     // no control thread attached (HTTP 503)
};

struct AddResult {
  std::optional<int64_t> id;
  AddError error = AddError::kNone;
  std::string message;  // empty on success; never holds secrets
};

using AddCallback = std::function<void(AddResult)>;
using RefreshCallback = std::function<void(std::optional<std::string> newAccessToken)>;

// The control thread's side (TokenRefresher). Every call may come from any thread and returns at
// once; callbacks run on the control thread.
class AccountControl {
 public:
  virtual ~AccountControl() = default;
  virtual void refreshNow(int64_t id, RefreshCallback done) = 0;
  virtual void add(config::AccountSpec spec, AddCallback done) = 0;
  // Exchange soon and resume background refresh (after an admin enabled the account).
  virtual void exchangeSoon(int64_t id) = 0;
};

// Told about every change that must reach the database (Persister). Called from any thread,
// never under the pool's lock; must return at once.
class PoolObserver {
 public:
  virtual ~PoolObserver() = default;
  virtual void accountChanged(int64_t id) = 0;
  virtual void accountRemoved(int64_t id, const std::string& originalTokenHash) = 0;
};

struct PoolOptions {
  config::AccountStrategy strategy = config::AccountStrategy::kRandom;
  std::chrono::seconds lockDuration{600};  // RATE_LIMIT_COOKIE_LOCK_DURATION
  uint64_t seed = std::random_device{}();
};

class AccountPool {
 public:
  explicit AccountPool(PoolOptions options);
  AccountPool(const AccountPool&) = delete;
  AccountPool& operator=(const AccountPool&) = delete;

  // Set before the workers and the control thread start; not changed while they run.
  void setControl(AccountControl* control) { control_ = control; }
  void setObserver(PoolObserver* observer) { observer_ = observer; }

  // --- workers ---
  // A usable account not in `tried`, chosen by the strategy; its inFlight count goes up.
  std::optional<Lease> acquire(std::span<const int64_t> tried, TimePoint now, Route route = {});
  // Whether any account, in any state, serves `route` (its state then says why it cannot now).
  bool offers(Route route) const;
  // The same question for both kinds at once (a request's start): `route.kind` is ignored.
  struct Offer {
    bool chats = false;
    bool command = false;
  };
  Offer offering(Route route) const;
  // Whether a command account, in any state, lists `model` (the model exists for a request).
  bool listsModel(std::string_view model) const;
  // Command accounts (not disabled or invalid) whose get-things has not listed models yet.
  size_t unlistedCommandAccounts() const;
  // The models command accounts list now (not disabled or invalid), sorted, without repeats.
  std::vector<std::string> liveModels() const;
  // Applies the outcome (state, counters, last error, last used) and ends the lease. A lease on
  // an account removed meanwhile is ignored. `lastError` is kept for failures only.
  void release(const Lease& lease, Outcome outcome, std::string_view lastError, TimePoint now);
  // The first 401: exchange this account's refresh token now. `done` runs on the control thread
  // with the new access token, or nullopt when the exchange failed (the account's state then
  // says why); post back to your own executor from it.
  void refreshNow(int64_t id, RefreshCallback done);

  // --- admin ---
  std::vector<AccountView> list(TimePoint now) const;
  // Exchanges the token first; only a working account is added. `done` runs on the control
  // thread.
  void add(config::AccountSpec spec, AddCallback done);
  // False when no such account. Leases in flight on it end silently.
  bool remove(int64_t id);
  // Back to active with no cool-down and no last error; exchanges again when the account holds
  // no valid access token or was invalid. False when no such account.
  bool enable(int64_t id, TimePoint now);
  // Out of rotation until enabled. False when no such account.
  bool disable(int64_t id);
  // The result of a check (admin test, background check). False when no such account.
  bool noteCheck(int64_t id, CheckResult result);

  StateCounts counts(TimePoint now) const;

  // --- start-up and control thread ---
  void insert(Account account);
  std::vector<int64_t> ids() const;
  std::optional<Account> find(int64_t id) const;
  std::optional<int64_t> findByHash(std::string_view originalTokenHash) const;
  // A successful exchange. An empty `refreshToken` or the same one keeps the current token;
  // a new one replaces it and is persisted. False when the account is gone.
  bool applyToken(int64_t id, std::string accessToken, TimePoint expiry, std::string refreshToken);
  // A command account's get-things answered: the key serves from now on, with these models;
  // a quota used up rests the account until its reset time. False when the account is gone.
  bool applyInfo(int64_t id, CommandInfo info, TimePoint now);
  // Firebase rejected the refresh token.
  bool markInvalid(int64_t id, std::string_view error);
  // A failed exchange that will be retried: only the last error changes.
  bool noteError(int64_t id, std::string_view error);
  std::optional<store::StoredAccount> snapshot(int64_t id) const;

  // --- the fleet (fleet/fleet_sync.h), control thread ---
  // An account as the fleet's store holds it: inserted when new, else its shared fields (keys,
  // state, cool-down, last error, what get-things said) replace the local ones; counters,
  // leases in flight and check results stay this instance's. Its access token is taken when it
  // expires later than the one held. Tells the observer.
  void applyShared(const Account& shared);
  // Gives accounts their fleet ids (old id → new id; 0 removes the account), all at once. Leases
  // in flight on a renumbered account end silently. Tells the observer nothing.
  void reassign(const std::map<int64_t, int64_t>& ids);
  // When the access token in force was issued (one adopted from another instance).
  void noteIssued(int64_t id, TimePoint issued);
  // Tells the observer that `id` changed (a new account, whole).
  void announce(int64_t id) { changed(id); }

 private:
  Account* findLocked(int64_t id);
  const Account* findLocked(int64_t id) const;
  void changed(int64_t id);

  const PoolOptions options_;
  AccountControl* control_ = nullptr;
  PoolObserver* observer_ = nullptr;

  mutable std::mutex mutex_;
  std::vector<Account> accounts_;  // ordered by id
  std::mt19937_64 random_;
  int64_t lastChosenId_ = 0;
};

}  // namespace accounts
