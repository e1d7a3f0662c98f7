#include "store/usage_store.h"

#include "store/sqlite.h"

namespace store {

Status SqliteUsageStore::fail(int code, const char* what) const {
  return {ErrorKind::kIo, std::string("usage: ") + what + ": " + sqlite3_errstr(code)};
}

Status SqliteUsageStore::open(sqlite3* db, std::unique_ptr<SqliteUsageStore>* out) {
  std::unique_ptr<SqliteUsageStore> self(new SqliteUsageStore(db));
  // A table of its own: an older qodo2api opening this file ignores it.
  const int code = execute(db,
                           "CREATE TABLE IF NOT EXISTS usage (day TEXT NOT NULL, key TEXT NOT NULL,"
                           " model TEXT NOT NULL, requests INTEGER NOT NULL,"
                           " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
                           " PRIMARY KEY (day, key, model))");
  if (code != SQLITE_OK) return self->fail(code, "cannot create the table");
  *out = std::move(self);
  return {};
}

Status SqliteUsageStore::load(std::vector<obs::UsageRow>* out) {
  Statement read(db_,
                 "SELECT day, key, model, requests, prompt_tokens, completion_tokens FROM usage");
  if (!read.prepared()) return fail(read.prepareCode(), "cannot read");
  int code;
  while ((code = read.step()) == SQLITE_ROW)
    out->push_back({read.columnText(0), read.columnText(1), read.columnText(2),
                    read.columnInt(3), read.columnInt(4), read.columnInt(5)});
  return code == SQLITE_DONE ? Status() : fail(code, "cannot read");
}

Status SqliteUsageStore::saveNow(const std::vector<obs::UsageRow>& rows) {
  if (rows.empty()) return {};
  Transaction tx(db_);
  if (tx.begun() != SQLITE_OK) return fail(tx.begun(), "cannot save");
  Statement upsert(db_,
                   "INSERT INTO usage (day, key, model, requests, prompt_tokens, completion_tokens)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day, key, model) DO UPDATE SET"
                   " requests = excluded.requests, prompt_tokens = excluded.prompt_tokens,"
                   " completion_tokens = excluded.completion_tokens");
  if (!upsert.prepared()) return fail(upsert.prepareCode(), "cannot save");
  for (const auto& r : rows) {
    upsert.reset();
    upsert.bind(1, r.day);
    upsert.bind(2, r.key);
    upsert.bind(3, r.model);
    upsert.bind(4, r.requests);
    upsert.bind(5, r.promptTokens);
    upsert.bind(6, r.completionTokens);
    if (const int code = upsert.step(); code != SQLITE_DONE) return fail(code, "cannot save");
  }
  const int code = tx.commit();
  return code == SQLITE_OK ? Status() : fail(code, "cannot save");
}

}  // namespace store
