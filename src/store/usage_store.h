// Where usage totals live between restarts (SPEC.md §13): one row per day, client key name and
// model. An interface, so a fleet store (Redis, issue 13) can hold them instead; the SQLite one
// is a table in the accounts database, used from the control thread only.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "obs/usage.h"
#include "store/status.h"

namespace store {

class UsageStore {
 public:
  virtual ~UsageStore() = default;
  virtual Status load(std::vector<obs::UsageRow>* out) = 0;
  // The rows' totals replace what is stored for their (day, key, model).
  virtual Status save(const std::vector<obs::UsageRow>& rows) = 0;
};

class SqliteUsageStore final : public UsageStore {
 public:
  // `db`: the accounts database's connection (store::AccountStore::handle()), which outlives
  // this store. Creates the `usage` table when missing.
  static Status open(sqlite3* db, std::unique_ptr<SqliteUsageStore>* out);

  Status load(std::vector<obs::UsageRow>* out) override;
  Status save(const std::vector<obs::UsageRow>& rows) override;

 private:
  explicit SqliteUsageStore(sqlite3* db) : db_(db) {}
  Status fail(int code, const char* what) const;
  sqlite3* db_;
};

}  // namespace store
