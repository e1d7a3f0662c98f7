// One instance's link to the fleet (SPEC §12, docs/fleet.md): the account pool kept the same on
// every instance through Redis. Changes made here (admin actions, outcomes that change a state,
// rotated tokens, get-things) are written to the account's hash field by field — only the
// fields that changed, so two instances changing different things never undo each other — and
// announced on a channel; the other instances read the account back and apply it. Token
// exchanges run under a lease (accounts::FleetCoordinator). While Redis is unreachable the
// instance serves with what it knows and catches up when Redis returns: its own changes first,
// then everything the fleet holds.
//
// Runs on the control thread; only the PoolObserver calls and up() come from other threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "accounts/persister.h"
#include "accounts/pool.h"
#include "accounts/refresher.h"
#include "config/config.h"
#include "store/redis.h"

namespace boost::asio {
class io_context;
}

namespace fleet {

struct FleetOptions {
  config::RedisTarget target;
  std::string instance;                        // this instance's name in leases and announcements
  std::chrono::milliseconds flushDelay{50};    // changes are gathered this long, then written
  std::chrono::milliseconds leaseTtl{10000};   // a lease lapses after this unless renewed
  std::chrono::milliseconds leaseRenew{3000};  // its holder renews it this often
  double youngFraction = 0.7;  // a token younger than this part of its life is adopted
};

// An account's fields as the fleet's hash holds them (docs/fleet.md). Counters, last use and
// check results are the instance's own and not among them.
using Fields = std::map<std::string, std::string>;
Fields fieldsOf(const accounts::Account& account);
accounts::Account accountFrom(int64_t id, const Fields& fields);

class FleetSync final : public accounts::PoolObserver, public accounts::FleetCoordinator {
 public:
  // Puts itself between the pool and its persister (every change still reaches SQLite: this
  // instance's copy of the fleet's state, read at start when Redis is unreachable).
  FleetSync(boost::asio::io_context& control, accounts::AccountPool& pool,
            accounts::Persister& persister, FleetOptions options);
  ~FleetSync() override;

  // Control thread. `onNewAccount` runs for an account another instance added (exchange it).
  void start(std::function<void(int64_t id)> onNewAccount);
  // main, before listening: waits until the first catch-up with Redis finished, or `deadline`.
  bool waitForFirstSync(std::chrono::steady_clock::time_point deadline);
  // main, when that wait failed: counts and logs the outage (once) from the control thread.
  void reportUnreachableAtStart();

  // Any thread.
  bool up() const { return up_.load(std::memory_order_acquire); }
  uint64_t outages() const { return outages_.load(std::memory_order_relaxed); }
  const std::string& instance() const { return options_.instance; }
  // The commands connection (control thread): the rate limit and the usage store use it too.
  store::RedisClient& redis() { return commands_; }

  // accounts::PoolObserver, any thread.
  void accountChanged(int64_t id) override;
  void accountRemoved(int64_t id, const std::string& originalTokenHash) override;

  // accounts::FleetCoordinator, control thread.
  void acquire(int64_t id, const std::string& refused,
               std::function<void(accounts::LeaseAnswer)> done) override;
  void commit(int64_t id, uint64_t fence, const std::string& accessToken,
              std::chrono::milliseconds expiresIn, const std::string& refreshToken) override;
  void release(int64_t id, uint64_t fence) override;
  void allocateId(
      const std::string& originalTokenHash,
      std::function<void(std::optional<int64_t>, accounts::AddError, std::string)> done) override;

 private:
  struct PendingRemoval {
    int64_t id;
    std::string hash;
  };

  void connectionUp();
  void connectionDown(const std::string& reason);
  void catchUp();
  void registerAll(std::function<void(bool ok)> next);
  void loadAll(std::function<void(bool ok)> next);
  void scheduleFlush();
  void flush();
  void sendRemovals();
  void onMessage(std::string_view message);
  void applyFields(int64_t id, const Fields& fields);
  void renewLeases();
  std::string message(std::string_view op, int64_t id) const;

  boost::asio::io_context& control_;
  accounts::AccountPool& pool_;
  accounts::Persister& persister_;
  const FleetOptions options_;
  std::function<void(int64_t)> onNewAccount_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  store::RedisClient commands_;
  store::RedisClient events_;
  std::unique_ptr<class Timers> timers_;

  // Written from any thread.
  std::mutex mutex_;
  std::set<int64_t> dirty_;
  std::vector<PendingRemoval> removals_;
  std::set<int64_t> removedByFleet_;  // removals applied from the fleet: not announced again
  bool flushScheduled_ = false;

  // Control thread only.
  std::map<int64_t, Fields> synced_;  // each account's fields as last read from or written to Redis
  std::map<int64_t, std::string> leases_;  // held leases: id → value
  bool catchingUp_ = false;
  bool catchUpAgain_ = false;
  uint64_t seq_ = 0;

  std::atomic<bool> up_{false};
  std::atomic<uint64_t> outages_{0};
  bool downLogged_ = false;
  std::mutex firstMutex_;
  std::condition_variable firstDone_;
  bool firstFinished_ = false;
};

}  // namespace fleet
