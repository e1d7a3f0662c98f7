// Carries the pool's changes to SQLite on the control thread: workers only mark an account dirty;
// at most one write batch per interval (one transaction) writes the latest state of everything
// marked. Also assigns ids to new accounts. With no store (tests, a read-only run) ids come from
// memory and nothing is written.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "accounts/pool.h"
#include "store/account_store.h"

namespace accounts {

class Persister : public PoolObserver {
 public:
  // Attaches itself to `pool` as its observer; construct before the workers start. `store` may
  // be null and must outlive this.
  Persister(boost::asio::io_context& control, AccountPool& pool, store::AccountStore* store,
            std::chrono::milliseconds interval = std::chrono::milliseconds(200));
  ~Persister() override;

  // Any thread; returns at once.
  void accountChanged(int64_t id) override;
  void accountRemoved(int64_t id, const std::string& originalTokenHash) override;

  // Control thread: rewrites the whole accounts table from the pool (the fleet renumbered or
  // replaced accounts: this instance's copy of the fleet's state).
  store::Status mirrorAll();

  // Control thread: writes a new account now and gives it its id (never reused); an account
  // that already has one (a fleet id) keeps it.
  store::Status insertNow(const Account& account, int64_t* id);

  // Writes everything pending now. On the control thread, or from main once it has stopped
  // (shutdown). A failed write is logged and kept for the next batch.
  store::Status flush();

  uint64_t batchesWritten() const { return batches_; }

 private:
  void schedule();

  boost::asio::io_context& control_;
  AccountPool& pool_;
  store::AccountStore* store_;
  const std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  std::mutex mutex_;
  std::set<int64_t> dirty_;
  std::vector<store::Removal> removals_;
  bool scheduled_ = false;

  int64_t nextMemoryId_ = 0;  // control thread
  uint64_t batches_ = 0;      // control thread
};

}  // namespace accounts
