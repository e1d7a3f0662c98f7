// Token lifecycle (SPEC §5) on the control thread: every account's refresh token is exchanged at
// start-up in parallel, again in the background before the access token expires, at once after a
// 401 (refreshNow), and for admin add/enable. Rejected tokens mark the account invalid; network
// errors and 5xx are retried with exponential back-off while the old access token still serves.
// No request ever waits on it, except the one whose 401 asked for a refresh.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "accounts/exchange.h"
#include "accounts/persister.h"
#include "accounts/pool.h"

namespace accounts {

struct RefresherOptions {
  double refreshAt = 0.8;  // refresh when this fraction of the token's lifetime has passed
  double jitter = 0.1;     // ± this fraction of that delay, so accounts do not refresh together
  std::chrono::milliseconds minDelay{1000};
  std::chrono::milliseconds backoffBase{1000};
  std::chrono::milliseconds backoffCap{std::chrono::minutes(5)};
  std::function<TimePoint()> clock = [] { return Clock::now(); };
  uint64_t seed = std::random_device{}();
};

// Exchanges by result, for /metrics (qodo2api_token_refreshes_total{result=…}).
struct RefreshCounts {
  uint64_t ok = 0;
  uint64_t rejected = 0;
  uint64_t transient = 0;
  uint64_t adopted = 0;  // another instance's fresh token taken instead of exchanging
};

// When to refresh a token living `lifetime`: lifetime × refreshAt × (1 + jitter × unit), unit in
// [-1, 1], at least minDelay.
std::chrono::milliseconds refreshDelay(std::chrono::milliseconds lifetime,
                                       const RefresherOptions& options, double unit);

// The wait after `failures` consecutive transient failures (1 → base): base × 2^(failures-1),
// capped.
std::chrono::milliseconds backoffDelay(int failures, const RefresherOptions& options);

// What the fleet (fleet/fleet_sync.h) answers before an account's token exchange.
struct LeaseAnswer {
  enum class Kind {
    kGranted,  // this instance exchanges, under `fence`, with `refreshToken`
    kAdopt,    // another instance exchanged lately: use its `accessToken`
    kBusy,     // another instance is exchanging now: ask again after `retryIn`
    kNoFleet,  // the fleet's store is unreachable: exchange on this instance's own
  };
  Kind kind = Kind::kNoFleet;
  uint64_t fence = 0;
  std::string refreshToken;  // kGranted, kAdopt: the fleet's current refresh token
  std::string accessToken;   // kAdopt
  TimePoint issued{};        // kAdopt
  TimePoint expiry{};        // kAdopt
  std::chrono::milliseconds retryIn{0};
};

// The fleet's side of token exchanges and account ids: one exchange per account at a time
// across the instances, under a lease that lapses when its holder dies, its result written only
// if no newer lease was taken since (a fencing value). Control thread; callbacks run on it.
class FleetCoordinator {
 public:
  virtual ~FleetCoordinator() = default;
  // `refused`: the access token a 401 refused (empty for a scheduled refresh); another instance's
  // different token is then adopted instead of exchanging again.
  virtual void acquire(int64_t id, const std::string& refused,
                       std::function<void(LeaseAnswer)> done) = 0;
  // The exchange under `fence` succeeded: writes its tokens unless a newer lease was taken.
  virtual void commit(int64_t id, uint64_t fence, const std::string& accessToken,
                      std::chrono::milliseconds expiresIn, const std::string& refreshToken) = 0;
  // The exchange under `fence` failed: lets the lease go.
  virtual void release(int64_t id, uint64_t fence) = 0;
  // A fleet-wide id for a new account (by its original token's hash); nullopt with the reason
  // when the fleet cannot say (its store is unreachable) or already holds the account.
  virtual void allocateId(
      const std::string& originalTokenHash,
      std::function<void(std::optional<int64_t> id, AddError error, std::string message)> done) = 0;
};

class TokenRefresher : public AccountControl {
 public:
  // Attaches itself to `pool` as its control; construct before the workers start. Everything
  // it does runs on `control`'s thread.
  TokenRefresher(boost::asio::io_context& control, AccountPool& pool, Persister& persister,
                 Exchanger exchanger, RefresherOptions options = {});
  // Call once `control` has stopped (or on its thread).
  ~TokenRefresher() override;

  // Any thread: exchanges every account that is not invalid, all at once.
  void start();
  // Blocks the calling thread (main) until every start-up exchange answered once, or until
  // `deadline`. True when all answered.
  bool waitForInitial(std::chrono::steady_clock::time_point deadline);

  RefreshCounts refreshCounts() const;

  // Set before start(); with one, exchanges go through the fleet's leases.
  void setFleet(FleetCoordinator* fleet) { fleet_ = fleet; }

  void refreshNow(int64_t id, RefreshCallback done) override;
  void add(config::AccountSpec spec, AddCallback done) override;
  void exchangeSoon(int64_t id) override;

 private:
  struct Entry {
    std::unique_ptr<boost::asio::steady_timer> timer;
    bool exchanging = false;
    bool initial = false;  // start() waits for its first answer
    int failures = 0;      // consecutive transient failures
    std::vector<RefreshCallback> waiters;
    std::string refused;  // the access token a 401 refused (refreshNow)
  };

  Entry& entry(int64_t id);
  void exchange(int64_t id);
  void onLease(int64_t id, LeaseAnswer answer);
  void startExchange(int64_t id, uint64_t fence, std::string refreshToken);
  void onExchanged(int64_t id, const ExchangeResult& result);
  void insertAdded(Account account, std::chrono::milliseconds lifetime, AddCallback done);
  void schedule(int64_t id, std::chrono::milliseconds delay);
  void finishInitial(bool wasInitial);
  void completeAdd(config::AccountSpec spec, std::string hash, const ExchangeResult& result,
                   AddCallback done);
  template <class F>
  void onControl(F&& f);

  boost::asio::io_context& control_;
  AccountPool& pool_;
  Persister& persister_;
  Exchanger exchanger_;
  RefresherOptions options_;
  FleetCoordinator* fleet_ = nullptr;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  // Control thread only.
  std::map<int64_t, Entry> entries_;
  std::mt19937_64 random_;
  size_t initialPending_ = 0;

  std::mutex initialMutex_;
  std::condition_variable initialDone_;
  bool initialFinished_ = false;

  std::atomic<uint64_t> ok_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> transient_{0};
  std::atomic<uint64_t> adopted_{0};
};

}  // namespace accounts
