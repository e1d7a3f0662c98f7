#include "store/sqlite.h"

namespace store {

Statement::Statement(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  prepareCode_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  stmt_.reset(raw);
}

void Statement::bind(int index, int64_t value) { sqlite3_bind_int64(stmt_.get(), index, value); }

void Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
}

void Statement::bind(int index, const std::optional<int64_t>& value) {
  if (value) {
    sqlite3_bind_int64(stmt_.get(), index, *value);
  } else {
    sqlite3_bind_null(stmt_.get(), index);
  }
}

int Statement::step() { return sqlite3_step(stmt_.get()); }

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

int64_t Statement::columnInt(int index) const { return sqlite3_column_int64(stmt_.get(), index); }

std::optional<int64_t> Statement::columnOptionalInt(int index) const {
  if (sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(stmt_.get(), index);
}

std::string Statement::columnText(int index) const {
  const auto* text = sqlite3_column_text(stmt_.get(), index);
  if (text == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), index)));
}

int execute(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

}  // namespace store
