// The usage table in the accounts database (SPEC §13): totals saved replace, and come back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/account_store.h"
#include "store/usage_store.h"

namespace {

TEST(UsageStore, SavesAndLoadsTotals) {
  const auto dir = std::filesystem::temp_directory_path() / ("qodo2api-usage-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    std::unique_ptr<store::AccountStore> accounts;
    ASSERT_TRUE(store::AccountStore::open({dir.string()}, &accounts).ok());
    std::unique_ptr<store::SqliteUsageStore> usage;
    ASSERT_TRUE(store::SqliteUsageStore::open(accounts->handle(), &usage).ok());
    ASSERT_TRUE(usage->saveNow({{"2026-12-01", "alice", "gpt-4o", 2, 30, 12}}).ok());
    ASSERT_TRUE(usage
                    ->saveNow({{"2026-12-01", "alice", "gpt-4o", 3, 40, 13},
                               {"2026-12-02", "bob", "o1", 1, 2, 3}})
                    .ok());
  }
  std::unique_ptr<store::AccountStore> accounts;
  ASSERT_TRUE(store::AccountStore::open({dir.string()}, &accounts).ok());
  std::unique_ptr<store::SqliteUsageStore> usage;
  ASSERT_TRUE(store::SqliteUsageStore::open(accounts->handle(), &usage).ok());
  std::vector<obs::UsageRow> rows;
  ASSERT_TRUE(usage->load(&rows).ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (obs::UsageRow{"2026-12-01", "alice", "gpt-4o", 3, 40, 13}));
  std::filesystem::remove_all(dir);
}

}  // namespace
