#include "accounts/refresher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <utility>

#include "accounts/token_hash.h"
#include "obs/secrets.h"

namespace accounts {

using std::chrono::milliseconds;

milliseconds refreshDelay(milliseconds lifetime, const RefresherOptions& options, double unit) {
  const double factor = options.refreshAt * (1.0 + options.jitter * std::clamp(unit, -1.0, 1.0));
  auto delay = milliseconds(static_cast<int64_t>(static_cast<double>(lifetime.count()) * factor));
  return std::max(delay, options.minDelay);
}

milliseconds backoffDelay(int failures, const RefresherOptions& options) {
  const int doublings = std::clamp(failures - 1, 0, 30);
  const double delay = static_cast<double>(options.backoffBase.count()) * std::pow(2.0, doublings);
  return milliseconds(
      static_cast<int64_t>(std::min(delay, static_cast<double>(options.backoffCap.count()))));
}

TokenRefresher::TokenRefresher(boost::asio::io_context& control, AccountPool& pool,
                               Persister& persister, Exchanger exchanger, RefresherOptions options)
    : control_(control),
      pool_(pool),
      persister_(persister),
      exchanger_(std::move(exchanger)),
      options_(std::move(options)),
      random_(options_.seed) {
  pool_.setControl(this);
}

TokenRefresher::~TokenRefresher() { pool_.setControl(nullptr); }

template <class F>
void TokenRefresher::onControl(F&& f) {
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(control_, [alive, f = std::forward<F>(f)]() mutable {
    if (!alive.expired()) {
      f();
    }
  });
}

TokenRefresher::Entry& TokenRefresher::entry(int64_t id) {
  auto& e = entries_[id];
  if (!e.timer) {
    e.timer = std::make_unique<boost::asio::steady_timer>(control_);
  }
  return e;
}

void TokenRefresher::start() {
  onControl([this] {
    std::vector<int64_t> ids;
    for (int64_t id : pool_.ids()) {
      auto account = pool_.find(id);
      if (!account || account->status.state == State::kInvalid) {
        continue;
      }
      Entry& e = entry(id);
      if (!e.initial) {
        e.initial = true;
        ++initialPending_;
      }
      ids.push_back(id);
    }
    if (initialPending_ == 0) {
      std::lock_guard lock(initialMutex_);
      initialFinished_ = true;
      initialDone_.notify_all();
    }
    for (int64_t id : ids) {
      exchange(id);
    }
  });
}

bool TokenRefresher::waitForInitial(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(initialMutex_);
  return initialDone_.wait_until(lock, deadline, [this] { return initialFinished_; });
}

void TokenRefresher::finishInitial(bool wasInitial) {
  if (!wasInitial) {
    return;
  }
  if (initialPending_ > 0 && --initialPending_ == 0) {
    std::lock_guard lock(initialMutex_);
    initialFinished_ = true;
    initialDone_.notify_all();
  }
}

RefreshCounts TokenRefresher::refreshCounts() const {
  return {ok_.load(), rejected_.load(), transient_.load(), adopted_.load()};
}

void TokenRefresher::refreshNow(int64_t id, RefreshCallback done) {
  onControl([this, id, done = std::move(done)]() mutable {
    auto account = pool_.find(id);
    if (!account) {
      done(std::nullopt);
      return;
    }
    Entry& e = entry(id);
    if (e.waiters.empty()) e.refused = account->accessToken;
    e.waiters.push_back(std::move(done));
    exchange(id);
  });
}

void TokenRefresher::exchangeSoon(int64_t id) {
  onControl([this, id] {
    entry(id).failures = 0;
    exchange(id);
  });
}

void TokenRefresher::exchange(int64_t id) {
  auto account = pool_.find(id);
  auto it = entries_.find(id);
  if (!account) {
    if (it != entries_.end()) {
      auto waiters = std::move(it->second.waiters);
      finishInitial(std::exchange(it->second.initial, false));
      entries_.erase(it);
      for (auto& w : waiters) {
        w(std::nullopt);
      }
    }
    return;
  }
  Entry& e = entry(id);
  // Joins the exchange already under way: its answer goes to every waiter.
  if (e.exchanging) {
    return;
  }
  e.exchanging = true;
  e.timer->cancel();
  if (fleet_ == nullptr || account->kind != AccountKind::kChats) {
    startExchange(id, 0, account->refreshToken);
    return;
  }
  // Chats tokens may rotate: across the fleet one instance exchanges at a time.
  std::weak_ptr<int> alive = alive_;
  fleet_->acquire(id, e.waiters.empty() ? std::string() : e.refused,
                  [this, alive, id](LeaseAnswer answer) {
                    if (!alive.expired()) onLease(id, std::move(answer));
                  });
}

void TokenRefresher::onLease(int64_t id, LeaseAnswer answer) {
  auto it = entries_.find(id);
  auto account = pool_.find(id);
  if (it == entries_.end() || !account) {
    if (answer.kind == LeaseAnswer::Kind::kGranted) fleet_->release(id, answer.fence);
    if (it != entries_.end()) {
      it->second.exchanging = false;
      exchange(id);  // answers the waiters of a removed account
    }
    return;
  }
  Entry& e = it->second;
  switch (answer.kind) {
    case LeaseAnswer::Kind::kGranted:
      startExchange(id, answer.fence,
                    answer.refreshToken.empty() ? account->refreshToken : answer.refreshToken);
      return;
    case LeaseAnswer::Kind::kNoFleet: {
      // The fleet cannot say who exchanges (Redis is away). A refresh token may rotate, so two
      // instances exchanging it alone could spoil it for each other: while the access token
      // still has a minute, wait for Redis; only an expiring or refused one is exchanged here.
      const auto left = account->accessExpiry ? *account->accessExpiry - options_.clock()
                                              : accounts::Clock::duration::zero();
      if (e.waiters.empty() && hasValidToken(*account, options_.clock()) &&
          left > std::chrono::minutes(1)) {
        e.exchanging = false;
        schedule(id,
                 std::min(std::chrono::duration_cast<milliseconds>(left / 2), milliseconds(5000)));
        return;
      }
      startExchange(id, 0, account->refreshToken);
      return;
    }
    case LeaseAnswer::Kind::kBusy:
      // Another instance is exchanging: its result arrives through the fleet; ask again then.
      e.exchanging = false;
      schedule(id, std::max(answer.retryIn, std::chrono::milliseconds(50)));
      return;
    case LeaseAnswer::Kind::kAdopt: {
      ++adopted_;
      e.exchanging = false;
      e.failures = 0;
      pool_.applyToken(id, answer.accessToken, answer.expiry, answer.refreshToken);
      pool_.noteIssued(id, answer.issued);
      // Refresh when that token reaches the same point of its life as an own one would.
      const auto lifetime = std::chrono::duration_cast<milliseconds>(answer.expiry - answer.issued);
      std::uniform_real_distribution<double> unit(-1.0, 1.0);
      const auto due = answer.issued + refreshDelay(lifetime, options_, unit(random_));
      schedule(id, std::max(std::chrono::duration_cast<milliseconds>(due - options_.clock()),
                            options_.minDelay));
      auto waiters = std::move(e.waiters);
      e.waiters.clear();
      finishInitial(std::exchange(e.initial, false));
      for (auto& w : waiters) w(answer.accessToken);
      return;
    }
  }
}

void TokenRefresher::startExchange(int64_t id, uint64_t fence, std::string refreshToken) {
  auto account = pool_.find(id);
  if (!account) {
    if (fence != 0) fleet_->release(id, fence);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      it->second.exchanging = false;
      exchange(id);
    }
    return;
  }
  std::weak_ptr<int> alive = alive_;
  ExchangeRequest request{account->apiKey, std::move(refreshToken), account->kind,
                          account->info.baseUrl};
  exchanger_(request, [this, alive, id, fence](ExchangeResult result) {
    if (alive.expired()) {
      return;
    }
    if (fence != 0) {
      if (result.status == ExchangeStatus::kOk)
        fleet_->commit(id, fence, result.accessToken, result.expiresIn, result.refreshToken);
      else
        fleet_->release(id, fence);
    }
    onExchanged(id, result);
  });
}

void TokenRefresher::onExchanged(int64_t id, const ExchangeResult& result) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return;
  }
  Entry& e = it->second;
  e.exchanging = false;
  auto waiters = std::move(e.waiters);
  e.waiters.clear();
  // Start-up counts as finished only once the pool shows the answer, so /readyz is right when
  // waitForInitial returns.
  const bool wasInitial = std::exchange(e.initial, false);
  const auto account = pool_.find(id);
  const std::string key = account ? obs::maskSecret(account->refreshToken) : "…";
  const bool command = account && account->kind == AccountKind::kCommand;

  std::optional<std::string> token;
  switch (result.status) {
    case ExchangeStatus::kOk: {
      ++ok_;
      const TimePoint now = options_.clock();
      const bool applied =
          result.info ? pool_.applyInfo(id, *result.info, now)
                      : pool_.applyToken(id, result.accessToken, now + result.expiresIn,
                                         result.refreshToken);
      if (!applied) {
        entries_.erase(it);
        break;
      }
      e.failures = 0;
      token = result.accessToken;
      std::uniform_real_distribution<double> unit(-1.0, 1.0);
      schedule(id, refreshDelay(result.expiresIn, options_, unit(random_)));
      break;
    }
    case ExchangeStatus::kRejected:
      ++rejected_;
      spdlog::warn("account {} ({}) is invalid: {}: {}", id, key,
                   command ? "its Qodo API key was refused" : "token exchange rejected",
                   result.error);
      pool_.markInvalid(id, (command ? "the Qodo API key was refused: "
                                     : "token exchange rejected: ") +
                                result.error);
      break;
    case ExchangeStatus::kTransient: {
      ++transient_;
      ++e.failures;
      const auto delay = backoffDelay(e.failures, options_);
      spdlog::warn("account {} ({}) {} failed, retrying in {} ms: {}", id, key,
                   command ? "get-things" : "token exchange",
                   delay.count(), result.error);
      pool_.noteError(id, command ? result.error
                              : "token exchange failed: " + result.error);
      schedule(id, delay);
      break;
    }
  }
  finishInitial(wasInitial);
  for (auto& w : waiters) {
    w(token);
  }
}

void TokenRefresher::schedule(int64_t id, milliseconds delay) {
  Entry& e = entry(id);
  e.timer->expires_after(delay);
  std::weak_ptr<int> alive = alive_;
  e.timer->async_wait([this, alive, id](const boost::system::error_code& ec) {
    if (ec || alive.expired()) {
      return;
    }
    auto account = pool_.find(id);
    if (!account) {
      entries_.erase(id);
      return;
    }
    // An invalid account rests until an admin enables it (exchangeSoon).
    if (account->status.state == State::kInvalid) {
      return;
    }
    exchange(id);
  });
}

void TokenRefresher::add(config::AccountSpec spec, AddCallback done) {
  onControl([this, spec = std::move(spec), done = std::move(done)]() mutable {
    std::string hash = sha256Hex(spec.refreshToken);
    if (auto existing = pool_.findByHash(hash)) {
      done({std::nullopt, AddError::kDuplicate,
            "the account is already in the pool (id " + std::to_string(*existing) + ")"});
      return;
    }
    std::weak_ptr<int> alive = alive_;
    ExchangeRequest request{spec.apiKey, spec.refreshToken, spec.kind, ""};
    exchanger_(request, [this, alive, spec = std::move(spec), hash = std::move(hash),
                         done = std::move(done)](ExchangeResult result) mutable {
      if (alive.expired()) {
        return;
      }
      completeAdd(std::move(spec), std::move(hash), result, std::move(done));
    });
  });
}

void TokenRefresher::completeAdd(config::AccountSpec spec, std::string hash,
                                 const ExchangeResult& result, AddCallback done) {
  const bool command = spec.kind == AccountKind::kCommand;
  if (result.status == ExchangeStatus::kRejected) {
    ++rejected_;
    done({std::nullopt, AddError::kInvalidToken,
          std::string(command ? "the Qodo API key was refused: "
                              : "the refresh token was rejected: ") +
              result.error});
    return;
  }
  if (result.status == ExchangeStatus::kTransient) {
    ++transient_;
    done({std::nullopt, AddError::kExchangeFailed,
          command ? result.error : "token exchange failed: " + result.error});
    return;
  }
  ++ok_;
  // Two adds of one token may have raced through their exchanges.
  if (auto existing = pool_.findByHash(hash)) {
    done({std::nullopt, AddError::kDuplicate,
          "the account is already in the pool (id " + std::to_string(*existing) + ")"});
    return;
  }
  const TimePoint now = options_.clock();
  Account account;
  account.kind = spec.kind;
  account.apiKey = std::move(spec.apiKey);
  account.refreshToken =
      result.refreshToken.empty() ? std::move(spec.refreshToken) : result.refreshToken;
  account.originalTokenHash = std::move(hash);
  account.accessToken = result.accessToken;
  if (result.info)
    account.info = *result.info;  // the key never expires
  else
    account.accessExpiry = now + result.expiresIn;
  account.createdAt = now;
  if (!result.info) account.accessIssued = now;
  if (fleet_ != nullptr) {
    std::weak_ptr<int> alive = alive_;
    const std::string tokenHash = account.originalTokenHash;
    fleet_->allocateId(tokenHash,
                       [this, alive, account = std::move(account), lifetime = result.expiresIn,
                        done = std::move(done)](std::optional<int64_t> id, AddError error,
                                                std::string message) mutable {
                         if (alive.expired()) return;
                         if (!id) {
                           done({std::nullopt, error, std::move(message)});
                           return;
                         }
                         account.id = *id;
                         insertAdded(std::move(account), lifetime, std::move(done));
                       });
    return;
  }
  insertAdded(std::move(account), result.expiresIn, std::move(done));
}

void TokenRefresher::insertAdded(Account account, std::chrono::milliseconds lifetime,
                                 AddCallback done) {
  int64_t id = 0;
  store::Status status = persister_.insertNow(account, &id);
  if (!status.ok()) {
    done({std::nullopt, AddError::kStorage, "saving the account failed: " + status.message()});
    return;
  }
  account.id = id;
  const std::string key = obs::maskSecret(account.refreshToken);
  pool_.insert(std::move(account));
  // The fleet learns of it (and its tokens) like of any change.
  pool_.announce(id);
  spdlog::info("account {} ({}) added", id, key);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  schedule(id, refreshDelay(lifetime, options_, unit(random_)));
  done({id, AddError::kNone, {}});
}

}  // namespace accounts
