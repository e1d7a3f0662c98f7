// Persistence of pool changes: written on the control thread only, coalesced into batches,
// flushed on shutdown; admin deletions leave a tombstone.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <thread>

#include "accounts/merge.h"
#include "accounts/metrics.h"
#include "accounts/persister.h"

namespace accounts {
namespace {

using namespace std::chrono_literals;

class PersisterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/persister_test_XXXXXX";
    dir_ = ::mkdtemp(pattern);
    ASSERT_TRUE(store::AccountStore::open({.dataDir = dir_}, &db_).ok());
    std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokB"}};
    ASSERT_EQ(loadAccounts(db_.get(), env, pool_, Clock::now()), "");
    for (int64_t id : pool_.ids()) {
      pool_.applyToken(id, "access", Clock::now() + 3600s, "");
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<store::StoredAccount> rows() {
    std::vector<store::StoredAccount> out;
    EXPECT_TRUE(db_->loadAll(&out).ok());
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::AccountStore> db_;
  AccountPool pool_{PoolOptions{config::AccountStrategy::kRoundRobin, 600s, 1}};
  boost::asio::io_context io_;
};

TEST_F(PersisterTest, WorkersNeverWriteAndManyChangesBecomeOneBatch) {
  Persister persister(io_, pool_, db_.get(), 50ms);
  for (int i = 0; i < 100; ++i) {
    auto lease = *pool_.acquire({}, Clock::now());
    pool_.release(lease, Outcome::kSuccess, "", Clock::now());
  }
  // Nothing is written until the control thread runs.
  EXPECT_EQ(rows()[0].requests + rows()[1].requests, 0);
  EXPECT_EQ(persister.batchesWritten(), 0u);
  io_.run_for(200ms);
  EXPECT_EQ(persister.batchesWritten(), 1u);
  EXPECT_EQ(rows()[0].requests + rows()[1].requests, 100);
}

TEST_F(PersisterTest, FlushOnShutdownWritesWhatIsPending) {
  Persister persister(io_, pool_, db_.get(), 10s);
  const int64_t id = pool_.ids()[0];
  auto lease = *pool_.acquire(std::vector<int64_t>{pool_.ids()[1]}, Clock::now());
  pool_.release(lease, Outcome::kUsageExhausted, "Usage limit exceeded", Clock::now());
  ASSERT_TRUE(persister.flush().ok());
  auto stored = rows();
  EXPECT_EQ(stored[0].id, id);
  EXPECT_EQ(stored[0].state, "exhausted");
  EXPECT_EQ(stored[0].lastError, "Usage limit exceeded");
  EXPECT_EQ(stored[0].failures, 1);
}

TEST_F(PersisterTest, RemovedAccountIsDeletedAndTombstoned) {
  Persister persister(io_, pool_, db_.get(), 10ms);
  const int64_t id = pool_.ids()[0];
  const std::string hash = pool_.find(id)->originalTokenHash;
  ASSERT_TRUE(pool_.remove(id));
  io_.run_for(100ms);
  EXPECT_EQ(rows().size(), 1u);
  std::vector<std::string> tombs;
  ASSERT_TRUE(db_->loadTombstones(&tombs).ok());
  EXPECT_EQ(tombs, std::vector<std::string>{hash});

  // A restart with the same QD_COOKIE does not bring it back.
  AccountPool again({});
  std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokB"}};
  ASSERT_EQ(loadAccounts(db_.get(), env, again, Clock::now()), "");
  EXPECT_EQ(again.ids().size(), 1u);
  EXPECT_FALSE(again.findByHash(hash));
}

TEST_F(PersisterTest, NewAccountsGetFreshIdsWithOrWithoutAStore) {
  Persister persister(io_, pool_, db_.get());
  Account a;
  a.refreshToken = "tokC";
  a.originalTokenHash = "hashC";
  int64_t id = 0;
  ASSERT_TRUE(persister.insertNow(a, &id).ok());
  EXPECT_EQ(id, 3);

  AccountPool memoryPool({});
  Account existing;
  existing.id = 5;
  memoryPool.insert(existing);
  Persister memory(io_, memoryPool, nullptr);
  ASSERT_TRUE(memory.insertNow(a, &id).ok());
  EXPECT_EQ(id, 6);
}

TEST(AccountMetrics, RendersAccountsByStateAndRefreshesByResult) {
  StateCounts c;
  c.active = 2;
  c.invalid = 1;
  c.usable = 2;
  RefreshCounts r{5, 1, 3};
  std::string text = renderMetrics(c, r);
  EXPECT_NE(text.find("qodo2api_accounts{state=\"active\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("qodo2api_accounts{state=\"invalid\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("qodo2api_accounts_usable 2\n"), std::string::npos);
  EXPECT_NE(text.find("qodo2api_token_refreshes_total{result=\"transient\"} 3\n"),
            std::string::npos);
}

}  // namespace
}  // namespace accounts
