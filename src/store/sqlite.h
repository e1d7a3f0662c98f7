// RAII owners for SQLite's C handles and a thin statement wrapper, so the account store reads as
// SQL plus bindings, and no handle leaks on an early return.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// A prepared statement. bind* use 1-based positions like SQLite; step() returns the SQLite code
// (SQLITE_ROW, SQLITE_DONE or an error).
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);

  bool prepared() const { return stmt_ != nullptr; }
  int prepareCode() const { return prepareCode_; }

  void bind(int index, int64_t value);
  void bind(int index, std::string_view value);
  void bind(int index, const std::optional<int64_t>& value);

  int step();
  void reset();

  int64_t columnInt(int index) const;
  std::optional<int64_t> columnOptionalInt(int index) const;
  std::string columnText(int index) const;

 private:
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
  int prepareCode_ = SQLITE_OK;
};

// Runs SQL without results (one or more statements); returns the SQLite code.
int execute(sqlite3* db, const char* sql);

// A write transaction (BEGIN IMMEDIATE) that rolls back unless committed, so an early return
// never leaves a transaction open.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { code_ = execute(db_, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (code_ == SQLITE_OK && !committed_) {
      execute(db_, "ROLLBACK");
    }
  }
  int begun() const { return code_; }
  int commit() {
    int code = execute(db_, "COMMIT");
    committed_ = code == SQLITE_OK;
    return code;
  }

 private:
  sqlite3* db_;
  int code_;
  bool committed_ = false;
};

}  // namespace store
