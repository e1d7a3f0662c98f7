// Start-up merge of QD_COOKIE with the database: identity by the first refresh token's hash,
// stored state and rotated tokens kept, admin deletions respected.
#include <gtest/gtest.h>

#include <filesystem>

#include "accounts/merge.h"
#include "accounts/token_hash.h"

namespace accounts {
namespace {

using std::chrono::seconds;

const TimePoint kNow = TimePoint(seconds(1'700'000'000));

store::StoredAccount stored(int64_t id, std::string firstToken, std::string current,
                            std::string state = "active") {
  store::StoredAccount row;
  row.id = id;
  row.apiKey = "AIzaShared";
  row.refreshToken = std::move(current);
  row.originalTokenHash = sha256Hex(firstToken);
  row.state = std::move(state);
  row.createdAt = 1'600'000'000;
  return row;
}

TEST(TokenHash, IsTheSha256HexOfTheToken) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AccountMerge, MatchesByTheFirstTokenNotTheKeyAndKeepsStoredStateAndRotatedToken) {
  std::vector<config::AccountSpec> env = {{"AIzaShared", "tokA"}, {"AIzaShared", "tokB"}};
  std::vector<store::StoredAccount> rows = {stored(4, "tokA", "tokA-rotated", "exhausted")};
  auto plan = planMerge(env, rows, {}, kNow);
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_EQ(plan.kept[0].id, 4);
  EXPECT_EQ(plan.kept[0].refreshToken, "tokA-rotated");
  EXPECT_EQ(plan.kept[0].status.state, State::kExhausted);
  EXPECT_TRUE(plan.keptChanged.empty());
  ASSERT_EQ(plan.added.size(), 1u) << "same API key, other token: another account";
  EXPECT_EQ(plan.added[0].refreshToken, "tokB");
  EXPECT_EQ(plan.added[0].originalTokenHash, sha256Hex("tokB"));
  EXPECT_EQ(plan.added[0].createdAt, kNow);
}

TEST(AccountMerge, StoredAccountsMissingFromTheEnvStay) {
  std::vector<store::StoredAccount> rows = {stored(1, "tokA", "tokA"), stored(2, "tokB", "tokB")};
  auto plan = planMerge({}, rows, {}, kNow);
  EXPECT_EQ(plan.kept.size(), 2u);
  EXPECT_TRUE(plan.added.empty());
}

TEST(AccountMerge, AnEntryDeletedThroughTheAdminApiIsNotAddedAgain) {
  std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokB"}};
  std::vector<std::string> tombstones = {sha256Hex("tokA")};
  auto plan = planMerge(env, {}, tombstones, kNow);
  EXPECT_EQ(plan.tombstoned, std::vector<size_t>{1});
  ASSERT_EQ(plan.added.size(), 1u);
  EXPECT_EQ(plan.added[0].refreshToken, "tokB");
}

TEST(AccountMerge, RepeatedEntriesAreOneAccount) {
  std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokA"}};
  auto plan = planMerge(env, {}, {}, kNow);
  EXPECT_EQ(plan.added.size(), 1u);
  EXPECT_EQ(plan.duplicates, std::vector<size_t>{2});
}

TEST(AccountMerge, ANewApiKeyForAKnownAccountIsTakenAndSaved) {
  std::vector<config::AccountSpec> env = {{"AIzaNew", "tokA"}};
  auto plan =
      planMerge(env, std::vector<store::StoredAccount>{stored(1, "tokA", "tokA")}, {}, kNow);
  EXPECT_EQ(plan.kept[0].apiKey, "AIzaNew");
  EXPECT_EQ(plan.keptChanged, std::vector<size_t>{0});
}

TEST(AccountMerge, LoadingTwiceFromTheDatabaseKeepsIdsAndState) {
  char pattern[] = "/tmp/merge_test_XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokB"}};
  int64_t idA = 0;
  {
    std::unique_ptr<store::AccountStore> db;
    ASSERT_TRUE(store::AccountStore::open({.dataDir = dir}, &db).ok());
    AccountPool pool({});
    ASSERT_EQ(loadAccounts(db.get(), env, pool, kNow), "");
    ASSERT_EQ(pool.ids().size(), 2u);
    idA = *pool.findByHash(sha256Hex("tokA"));
    // What the pool would have persisted: a rotation and a cool-down.
    auto row = *pool.snapshot(idA);
    row.refreshToken = "tokA-2";
    row.state = "cooling";
    row.cooldownUntil = 1'700'000'600;
    ASSERT_TRUE(db->write({.upserts = {row}, .removals = {}}).ok());
  }
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open({.dataDir = dir}, &db).ok());
  AccountPool pool({});
  ASSERT_EQ(loadAccounts(db.get(), env, pool, kNow), "");
  EXPECT_EQ(pool.ids().size(), 2u);
  auto a = *pool.find(idA);
  EXPECT_EQ(a.refreshToken, "tokA-2");
  EXPECT_EQ(a.status.state, State::kCooling);
  EXPECT_EQ(a.status.cooldownUntil, TimePoint(seconds(1'700'000'600)));
  std::filesystem::remove_all(dir);
}

TEST(AccountMerge, WithoutAStoreTheEnvFillsThePool) {
  AccountPool pool({});
  std::vector<config::AccountSpec> env = {{"k", "tokA"}, {"k", "tokB"}};
  ASSERT_EQ(loadAccounts(nullptr, env, pool, kNow), "");
  EXPECT_EQ(pool.ids(), (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace accounts
