// The accounts table in SQLite at {DATA_DIR}/qodo2api.db: what survives a restart (rotated refresh
// tokens, exhaustion, cool-downs, counters) and the tombstones of accounts an admin deleted.
// Used only from the control thread (and from main before and after it runs): never on a worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.h"
#include "store/status.h"

namespace store {

// One row. Times are Unix seconds. `state` is the account state's name ("active", "cooling",
// "exhausted", "invalid"): the store does not interpret it.
struct StoredAccount {
  int64_t id = 0;  // 0 when not yet inserted
  std::string apiKey;
  std::string refreshToken;       // current, possibly rotated
  std::string originalTokenHash;  // SHA-256 hex of the refresh token first configured
  std::string state = "active";
  std::optional<int64_t> cooldownUntil;
  std::string lastError;
  int64_t requests = 0;
  int64_t failures = 0;
  std::optional<int64_t> lastUsed;
  int64_t createdAt = 0;
  // Since schema 2: the account's kind and, for command accounts, what get-things said last.
  std::string kind = "chats";  // "chats" or "command"
  std::string models;          // the models it serves, one per line
  std::string defaultModel;
  std::string baseUrl;  // the tenant base URL get-things pointed to; empty: the configured one
  std::optional<int64_t> quotaLimit;
  std::optional<int64_t> quotaRemaining;
  std::optional<int64_t> quotaReset;  // Unix seconds
};

// An admin deletion: the row goes and a tombstone keeps QD_COOKIE from re-adding it.
struct Removal {
  int64_t id = 0;
  std::string originalTokenHash;
  int64_t removedAt = 0;
};

// Changes written together in one transaction. A removal with an empty hash leaves no tombstone.
struct WriteBatch {
  std::vector<StoredAccount> upserts;  // by id; rows with id 0 are ignored
  std::vector<Removal> removals;
  bool replaceAll = false;  // the upserts are every account: rows not among them go (no tombstone)
  bool empty() const { return upserts.empty() && removals.empty() && !replaceAll; }
};

struct Options {
  std::string dataDir = "./data";
  std::chrono::milliseconds busyTimeout{5000};
};

class AccountStore {
 public:
  // Creates the directory (0700) and the file (0600) when missing; never deletes, truncates or
  // recreates an existing file. Errors: kUnwritableDir, kCorrupt, kLocked, kTooNew, kIo.
  static Status open(const Options& options, std::unique_ptr<AccountStore>* out);

  // The path of the database file for `dataDir`.
  static std::string databasePath(const std::string& dataDir);

  Status loadAll(std::vector<StoredAccount>* out);
  Status loadTombstones(std::vector<std::string>* originalTokenHashes);

  // Inserts a new account (its id is assigned here unless the row has one: a fleet id) and lifts
  // any tombstone on its hash: an admin adding a token back overrides an earlier deletion.
  Status insert(const StoredAccount& account, int64_t* id);

  Status write(const WriteBatch& batch);

  // The connection, for other tables of the same file (store::SqliteUsageStore).
  sqlite3* handle() const { return db_.get(); }

  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

 private:
  AccountStore(DbHandle db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
  Status fail(int code, const char* what) const;

  DbHandle db_;
  std::string path_;
};

}  // namespace store
