// Where usage totals live between restarts (SPEC.md §13): one row per day, client key name and
// model. An interface with two implementations: this SQLite one (a table in the accounts
// database, used from the control thread only) and the fleet's in Redis (fleet/usage_store.h).
#pragma once

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "obs/usage.h"
#include "store/status.h"

namespace store {

class UsageStore {
 public:
  virtual ~UsageStore() = default;
  // The totals this instance counts from (added to what it counts from now on).
  virtual Status load(std::vector<obs::UsageRow>* out) = 0;
  // Stores the rows' totals for their (day, key, model) — this instance's totals, as the ledger
  // counts them. `done` runs once, on the caller's thread; a failed save is offered again.
  virtual void save(std::vector<obs::UsageRow> rows, std::function<void(Status)> done) = 0;
};

class SqliteUsageStore final : public UsageStore {
 public:
  // `db`: the accounts database's connection (store::AccountStore::handle()), which outlives
  // this store. Creates the `usage` table when missing.
  static Status open(sqlite3* db, std::unique_ptr<SqliteUsageStore>* out);

  Status load(std::vector<obs::UsageRow>* out) override;
  void save(std::vector<obs::UsageRow> rows, std::function<void(Status)> done) override {
    done(saveNow(rows));
  }
  // The rows' totals replace what is stored for their (day, key, model).
  Status saveNow(const std::vector<obs::UsageRow>& rows);

 private:
  explicit SqliteUsageStore(sqlite3* db) : db_(db) {}
  Status fail(int code, const char* what) const;
  sqlite3* db_;
};

}  // namespace store
