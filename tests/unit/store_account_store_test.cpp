// The SQLite account store: round trip, reopen, tombstones, and the start-up errors an operator
// must see instead of a silently recreated database.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "store/account_store.h"

namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/store_test_XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0700);
    fs::remove_all(dir_);
  }
  store::Options options(std::string sub = "data") const {
    return {.dataDir = dir_ + "/" + sub, .busyTimeout = std::chrono::milliseconds(100)};
  }
  std::string dir_;
};

store::StoredAccount sample(std::string token) {
  store::StoredAccount a;
  a.apiKey = "AIzaKey";
  a.refreshToken = token;
  a.originalTokenHash = "hash-" + token;
  a.createdAt = 1700000000;
  return a;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(StoreTest, CreatesDirectoryAndFileWithPrivateModes) {
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options("nested/data"), &db);
  ASSERT_TRUE(s.ok()) << s.message();
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/nested/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ + "/nested/data/qodo2api.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StoreTest, RoundTripsAccountsAcrossAReopen) {
  int64_t id = 0;
  {
    std::unique_ptr<store::AccountStore> db;
    ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
    auto a = sample("tokA");
    ASSERT_TRUE(db->insert(a, &id).ok());
    EXPECT_GT(id, 0);
    a.id = id;
    a.refreshToken = "rotated";
    a.state = "cooling";
    a.cooldownUntil = 1700000600;
    a.lastError = "rate limited";
    a.requests = 7;
    a.failures = 2;
    a.lastUsed = 1700000500;
    ASSERT_TRUE(db->write({.upserts = {a}, .removals = {}}).ok());
  }
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  std::vector<store::StoredAccount> rows;
  ASSERT_TRUE(db->loadAll(&rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, id);
  EXPECT_EQ(rows[0].refreshToken, "rotated");
  EXPECT_EQ(rows[0].originalTokenHash, "hash-tokA");
  EXPECT_EQ(rows[0].state, "cooling");
  EXPECT_EQ(rows[0].cooldownUntil, 1700000600);
  EXPECT_EQ(rows[0].lastError, "rate limited");
  EXPECT_EQ(rows[0].requests, 7);
  EXPECT_EQ(rows[0].failures, 2);
  EXPECT_EQ(rows[0].lastUsed, 1700000500);
  EXPECT_EQ(rows[0].createdAt, 1700000000);
}

TEST_F(StoreTest, RemovalLeavesATombstoneThatAnInsertLifts) {
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  int64_t id = 0;
  ASSERT_TRUE(db->insert(sample("tokA"), &id).ok());
  ASSERT_TRUE(db->write({.upserts = {}, .removals = {{id, "hash-tokA", 1700000100}}}).ok());
  std::vector<store::StoredAccount> rows;
  ASSERT_TRUE(db->loadAll(&rows).ok());
  EXPECT_TRUE(rows.empty());
  std::vector<std::string> tombs;
  ASSERT_TRUE(db->loadTombstones(&tombs).ok());
  EXPECT_EQ(tombs, std::vector<std::string>{"hash-tokA"});

  int64_t again = 0;
  ASSERT_TRUE(db->insert(sample("tokA"), &again).ok());
  EXPECT_GT(again, id) << "ids are never reused";
  ASSERT_TRUE(db->loadTombstones(&tombs).ok());
  EXPECT_TRUE(tombs.empty());
}

TEST_F(StoreTest, AnAccountMovesToANewIdInOneBatchAndReplaceAllRewritesTheTable) {
  // A fleet's catch-up: the account deleted under id 1 came back as id 5 (same hash).
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  int64_t id = 0;
  ASSERT_TRUE(db->insert(sample("rt-a"), &id).ok());
  ASSERT_EQ(id, 1);
  auto moved = sample("rt-a");
  moved.id = 5;
  ASSERT_TRUE(db->write({{moved}, {{1, moved.originalTokenHash, 1700000001}}}).ok());
  std::vector<store::StoredAccount> rows;
  ASSERT_TRUE(db->loadAll(&rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 5);
  std::vector<std::string> tombs;
  ASSERT_TRUE(db->loadTombstones(&tombs).ok());
  EXPECT_TRUE(tombs.empty());  // it exists: not deleted

  // An insert with a fleet id keeps it; replaceAll leaves exactly the rows given.
  auto b = sample("rt-b");
  b.id = 9;
  ASSERT_TRUE(db->insert(b, &id).ok());
  EXPECT_EQ(id, 9);
  store::WriteBatch all;
  all.replaceAll = true;
  all.upserts = {b};
  ASSERT_TRUE(db->write(all).ok());
  rows.clear();
  ASSERT_TRUE(db->loadAll(&rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 9);
}

TEST_F(StoreTest, CorruptFileIsAnErrorAndIsLeftUntouched) {
  fs::create_directories(dir_ + "/data");
  const std::string path = dir_ + "/data/qodo2api.db";
  const std::string garbage(8192, 'x');
  { std::ofstream(path, std::ios::binary) << garbage; }
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options(), &db);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), store::ErrorKind::kCorrupt) << s.message();
  EXPECT_EQ(db, nullptr);
  EXPECT_EQ(readFile(path), garbage);
  EXPECT_FALSE(fs::exists(path + "-wal"));
}

TEST_F(StoreTest, UnwritableDirectoryIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes everywhere";
  fs::create_directories(dir_ + "/data");
  ::chmod((dir_ + "/data").c_str(), 0500);
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options(), &db);
  EXPECT_EQ(s.kind(), store::ErrorKind::kUnwritableDir) << s.message();
  ::chmod((dir_ + "/data").c_str(), 0700);
}

TEST_F(StoreTest, UncreatableDirectoryIsAnError) {
  { std::ofstream(dir_ + "/file") << "x"; }
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options("file/data"), &db);
  EXPECT_EQ(s.kind(), store::ErrorKind::kUnwritableDir) << s.message();
}

TEST_F(StoreTest, DirectoryOnAReadOnlyFileSystemIsAnError) {
  // /proc refuses new directories even to root, where the chmod test above cannot bite.
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open({.dataDir = "/proc/qodo2api-store-test"}, &db);
  EXPECT_EQ(s.kind(), store::ErrorKind::kUnwritableDir) << s.message();
}

TEST_F(StoreTest, DatabaseLockedByAnotherProcessIsAnError) {
  fs::create_directories(dir_ + "/data");
  const std::string path = dir_ + "/data/qodo2api.db";
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE; CREATE TABLE t(a);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options(), &db);
  EXPECT_EQ(s.kind(), store::ErrorKind::kLocked) << s.message();
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
}

TEST_F(StoreTest, NewerSchemaIsAnError) {
  {
    std::unique_ptr<store::AccountStore> db;
    ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  }
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/data/qodo2api.db").c_str(), &other), SQLITE_OK);
  sqlite3_exec(other, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  std::unique_ptr<store::AccountStore> db;
  auto s = store::AccountStore::open(options(), &db);
  EXPECT_EQ(s.kind(), store::ErrorKind::kTooNew) << s.message();
}

TEST_F(StoreTest, ExistingFileWithWideModeIsTightened) {
  {
    std::unique_ptr<store::AccountStore> db;
    ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  }
  const std::string path = dir_ + "/data/qodo2api.db";
  ::chmod(path.c_str(), 0644);
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open(options(), &db).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
