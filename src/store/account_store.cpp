#include "store/account_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace store {
namespace {

// Each entry moves the schema from version i to i + 1 (PRAGMA user_version). Append only: a
// released entry is never edited, so every database upgrades along the same path.
constexpr std::array<const char*, 2> kMigrations = {
    R"sql(
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  api_key TEXT NOT NULL,
  refresh_token TEXT NOT NULL,
  original_token_hash TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL DEFAULT 'active',
  cooldown_until INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  requests INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_used INTEGER,
  created_at INTEGER NOT NULL
);
CREATE TABLE removed_accounts (
  original_token_hash TEXT PRIMARY KEY,
  removed_at INTEGER NOT NULL
);
)sql",
    R"sql(
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'chats';
ALTER TABLE accounts ADD COLUMN models TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN default_model TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN base_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN quota_limit INTEGER;
ALTER TABLE accounts ADD COLUMN quota_remaining INTEGER;
ALTER TABLE accounts ADD COLUMN quota_reset INTEGER;
)sql",
};

constexpr const char* kFileName = "qodo2api.db";

std::string errnoText() { return std::strerror(errno); }

// mkdir -p with 0700 for every directory created here; existing ones keep their mode.
bool makeDirectories(const std::string& dir, std::string* error) {
  if (dir.empty()) {
    return true;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return true;
    }
    *error = "exists and is not a directory";
    return false;
  }
  auto slash = dir.find_last_of('/', dir.size() > 1 ? dir.size() - 2 : 0);
  if (slash != std::string::npos && slash > 0 && !makeDirectories(dir.substr(0, slash), error)) {
    return false;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = errnoText();
    return false;
  }
  return true;
}

ErrorKind kindOf(int code) {
  switch (code & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return ErrorKind::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::kLocked;
    default:
      return ErrorKind::kIo;
  }
}

}  // namespace

std::string AccountStore::databasePath(const std::string& dataDir) {
  if (dataDir.empty()) {
    return kFileName;
  }
  return dataDir.back() == '/' ? dataDir + kFileName : dataDir + "/" + kFileName;
}

Status AccountStore::fail(int code, const char* what) const {
  const ErrorKind kind = kindOf(code);
  // A lock is not a failed check: say who is in the way rather than what step noticed it.
  if (kind == ErrorKind::kLocked)
    return {kind, path_ +
                      ": the database is locked by another process (is another qodo2api "
                      "running on this DATA_DIR?)"};
  std::string message = path_ + ": " + what + ": " + sqlite3_errstr(code);
  return {kind, std::move(message)};
}

Status AccountStore::open(const Options& options, std::unique_ptr<AccountStore>* out) {
  const std::string path = databasePath(options.dataDir);
  std::string error;
  if (!makeDirectories(options.dataDir, &error)) {
    return {ErrorKind::kUnwritableDir,
            "DATA_DIR " + options.dataDir + " cannot be created: " + error};
  }
  if (!options.dataDir.empty() && ::access(options.dataDir.c_str(), W_OK | X_OK) != 0) {
    return {ErrorKind::kUnwritableDir, "DATA_DIR " + options.dataDir + " is not writable"};
  }

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // Created here, exclusively, so the mode is 0600 from the first byte on.
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
      return {ErrorKind::kUnwritableDir, path + " cannot be created: " + errnoText()};
    }
    ::close(fd);
  } else if (!S_ISREG(st.st_mode)) {
    return {ErrorKind::kIo, path + " is not a regular file"};
  } else if ((st.st_mode & 077) != 0) {
    // The file holds refresh tokens: nobody but the owner reads it.
    ::chmod(path.c_str(), st.st_mode & 0700);
  }
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return {ErrorKind::kUnwritableDir, path + " is not writable: " + errnoText()};
  }

  sqlite3* raw = nullptr;
  // No SQLITE_OPEN_CREATE: the file exists by now, and SQLite must never make another one.
  int code =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  DbHandle db(raw);
  std::unique_ptr<AccountStore> self(new AccountStore(std::move(db), path));
  if (code != SQLITE_OK) {
    return self->fail(code, "cannot open");
  }
  sqlite3* handle = self->db_.get();
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(options.busyTimeout.count()));

  // Checked before anything writes, so a damaged or foreign file is reported and left as it is.
  {
    Statement check(handle, "PRAGMA quick_check");
    if (!check.prepared()) {
      return self->fail(check.prepareCode(), "integrity check failed");
    }
    code = check.step();
    if (code != SQLITE_ROW) {
      return self->fail(code, "integrity check failed");
    }
    std::string verdict = check.columnText(0);
    if (verdict != "ok") {
      return {ErrorKind::kCorrupt, path + ": integrity check failed: " + verdict};
    }
  }

  {
    Statement wal(handle, "PRAGMA journal_mode=WAL");
    code = wal.prepared() ? wal.step() : wal.prepareCode();
    if (code != SQLITE_ROW) {
      return self->fail(code, "cannot enable WAL");
    }
  }
  execute(handle, "PRAGMA synchronous=NORMAL");

  int64_t version = 0;
  {
    Statement read(handle, "PRAGMA user_version");
    code = read.prepared() ? read.step() : read.prepareCode();
    if (code != SQLITE_ROW) {
      return self->fail(code, "cannot read the schema version");
    }
    version = read.columnInt(0);
  }
  if (version > static_cast<int64_t>(kMigrations.size())) {
    return {ErrorKind::kTooNew, path + ": schema version " + std::to_string(version) +
                                    " was written by a newer qodo2api"};
  }
  for (auto v = static_cast<size_t>(version); v < kMigrations.size(); ++v) {
    Transaction tx(handle);
    if (tx.begun() != SQLITE_OK) {
      return self->fail(tx.begun(), "cannot migrate");
    }
    code = execute(handle, kMigrations[v]);
    if (code != SQLITE_OK) {
      return self->fail(code, "cannot migrate");
    }
    std::string bump = "PRAGMA user_version = " + std::to_string(v + 1);
    code = execute(handle, bump.c_str());
    if (code == SQLITE_OK) {
      code = tx.commit();
    }
    if (code != SQLITE_OK) {
      return self->fail(code, "cannot migrate");
    }
  }

  *out = std::move(self);
  return {};
}

Status AccountStore::loadAll(std::vector<StoredAccount>* out) {
  out->clear();
  Statement select(db_.get(),
                   "SELECT id, api_key, refresh_token, original_token_hash, state, cooldown_until,"
                   " last_error, requests, failures, last_used, created_at, kind, models,"
                   " default_model, base_url, quota_limit, quota_remaining, quota_reset"
                   " FROM accounts ORDER BY id");
  if (!select.prepared()) {
    return fail(select.prepareCode(), "cannot load accounts");
  }
  int code;
  while ((code = select.step()) == SQLITE_ROW) {
    StoredAccount a;
    a.id = select.columnInt(0);
    a.apiKey = select.columnText(1);
    a.refreshToken = select.columnText(2);
    a.originalTokenHash = select.columnText(3);
    a.state = select.columnText(4);
    a.cooldownUntil = select.columnOptionalInt(5);
    a.lastError = select.columnText(6);
    a.requests = select.columnInt(7);
    a.failures = select.columnInt(8);
    a.lastUsed = select.columnOptionalInt(9);
    a.createdAt = select.columnInt(10);
    a.kind = select.columnText(11);
    a.models = select.columnText(12);
    a.defaultModel = select.columnText(13);
    a.baseUrl = select.columnText(14);
    a.quotaLimit = select.columnOptionalInt(15);
    a.quotaRemaining = select.columnOptionalInt(16);
    a.quotaReset = select.columnOptionalInt(17);
    out->push_back(std::move(a));
  }
  if (code != SQLITE_DONE) {
    return fail(code, "cannot load accounts");
  }
  return {};
}

Status AccountStore::loadTombstones(std::vector<std::string>* originalTokenHashes) {
  originalTokenHashes->clear();
  Statement select(db_.get(), "SELECT original_token_hash FROM removed_accounts");
  if (!select.prepared()) {
    return fail(select.prepareCode(), "cannot load removed accounts");
  }
  int code;
  while ((code = select.step()) == SQLITE_ROW) {
    originalTokenHashes->push_back(select.columnText(0));
  }
  if (code != SQLITE_DONE) {
    return fail(code, "cannot load removed accounts");
  }
  return {};
}

Status AccountStore::insert(const StoredAccount& a, int64_t* id) {
  Transaction tx(db_.get());
  if (tx.begun() != SQLITE_OK) {
    return fail(tx.begun(), "cannot add account");
  }
  Statement lift(db_.get(), "DELETE FROM removed_accounts WHERE original_token_hash = ?");
  lift.bind(1, a.originalTokenHash);
  int code = lift.step();
  if (code != SQLITE_DONE) {
    return fail(code, "cannot add account");
  }
  Statement add(db_.get(),
                "INSERT INTO accounts (api_key, refresh_token, original_token_hash, state,"
                " cooldown_until, last_error, requests, failures, last_used, created_at, kind,"
                " models, default_model, base_url, quota_limit, quota_remaining, quota_reset, id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0))");
  if (!add.prepared()) {
    return fail(add.prepareCode(), "cannot add account");
  }
  add.bind(1, a.apiKey);
  add.bind(2, a.refreshToken);
  add.bind(3, a.originalTokenHash);
  add.bind(4, a.state);
  add.bind(5, a.cooldownUntil);
  add.bind(6, a.lastError);
  add.bind(7, a.requests);
  add.bind(8, a.failures);
  add.bind(9, a.lastUsed);
  add.bind(10, a.createdAt);
  add.bind(11, a.kind);
  add.bind(12, a.models);
  add.bind(13, a.defaultModel);
  add.bind(14, a.baseUrl);
  add.bind(15, a.quotaLimit);
  add.bind(16, a.quotaRemaining);
  add.bind(17, a.quotaReset);
  add.bind(18, a.id);
  code = add.step();
  if (code != SQLITE_DONE) {
    return fail(code, "cannot add account");
  }
  int64_t newId = sqlite3_last_insert_rowid(db_.get());
  code = tx.commit();
  if (code != SQLITE_OK) {
    return fail(code, "cannot add account");
  }
  *id = newId;
  return {};
}

Status AccountStore::write(const WriteBatch& batch) {
  if (batch.empty()) {
    return {};
  }
  Transaction tx(db_.get());
  if (tx.begun() != SQLITE_OK) {
    return fail(tx.begun(), "cannot save accounts");
  }
  if (batch.replaceAll) {
    Statement clear(db_.get(), "DELETE FROM accounts");
    if (int code = clear.step(); code != SQLITE_DONE) return fail(code, "cannot save accounts");
  }
  // Removals first: an account a fleet gave a new id may still hold its hash under the old one.
  Statement remove(db_.get(), "DELETE FROM accounts WHERE id = ?");
  Statement tombstone(db_.get(),
                      "INSERT INTO removed_accounts (original_token_hash, removed_at)"
                      " VALUES (?, ?) ON CONFLICT(original_token_hash)"
                      " DO UPDATE SET removed_at = excluded.removed_at");
  if (!remove.prepared()) {
    return fail(remove.prepareCode(), "cannot remove account");
  }
  if (!tombstone.prepared()) {
    return fail(tombstone.prepareCode(), "cannot remove account");
  }
  for (const auto& r : batch.removals) {
    remove.reset();
    remove.bind(1, r.id);
    int code = remove.step();
    if (code != SQLITE_DONE) {
      return fail(code, "cannot remove account");
    }
    if (r.originalTokenHash.empty()) {
      continue;
    }
    tombstone.reset();
    tombstone.bind(1, r.originalTokenHash);
    tombstone.bind(2, r.removedAt);
    code = tombstone.step();
    if (code != SQLITE_DONE) {
      return fail(code, "cannot remove account");
    }
  }
  Statement upsert(db_.get(),
                   "INSERT INTO accounts (id, api_key, refresh_token, original_token_hash, state,"
                   " cooldown_until, last_error, requests, failures, last_used, created_at,"
                   " kind, models, default_model, base_url, quota_limit, quota_remaining,"
                   " quota_reset)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT(id) DO UPDATE SET api_key = excluded.api_key,"
                   " refresh_token = excluded.refresh_token, state = excluded.state,"
                   " cooldown_until = excluded.cooldown_until, last_error = excluded.last_error,"
                   " requests = excluded.requests, failures = excluded.failures,"
                   " last_used = excluded.last_used, kind = excluded.kind,"
                   " models = excluded.models, default_model = excluded.default_model,"
                   " base_url = excluded.base_url, quota_limit = excluded.quota_limit,"
                   " quota_remaining = excluded.quota_remaining,"
                   " quota_reset = excluded.quota_reset");
  if (!upsert.prepared()) {
    return fail(upsert.prepareCode(), "cannot save accounts");
  }
  Statement lift(db_.get(), "DELETE FROM removed_accounts WHERE original_token_hash = ?");
  if (!lift.prepared()) return fail(lift.prepareCode(), "cannot save accounts");
  for (const auto& a : batch.upserts) {
    if (a.id == 0) {
      continue;
    }
    upsert.reset();
    upsert.bind(1, a.id);
    upsert.bind(2, a.apiKey);
    upsert.bind(3, a.refreshToken);
    upsert.bind(4, a.originalTokenHash);
    upsert.bind(5, a.state);
    upsert.bind(6, a.cooldownUntil);
    upsert.bind(7, a.lastError);
    upsert.bind(8, a.requests);
    upsert.bind(9, a.failures);
    upsert.bind(10, a.lastUsed);
    upsert.bind(11, a.createdAt);
    upsert.bind(12, a.kind);
    upsert.bind(13, a.models);
    upsert.bind(14, a.defaultModel);
    upsert.bind(15, a.baseUrl);
    upsert.bind(16, a.quotaLimit);
    upsert.bind(17, a.quotaRemaining);
    upsert.bind(18, a.quotaReset);
    int code = upsert.step();
    if (code != SQLITE_DONE) {
      return fail(code, "cannot save accounts");
    }
    // An account that exists is not deleted (a fleet added it back under a new id).
    lift.reset();
    lift.bind(1, a.originalTokenHash);
    if (code = lift.step(); code != SQLITE_DONE) return fail(code, "cannot save accounts");
  }
  int code = tx.commit();
  if (code != SQLITE_OK) {
    return fail(code, "cannot save accounts");
  }
  return {};
}

}  // namespace store
