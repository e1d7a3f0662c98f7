// The outcome of a store call, as a value (LevelDB's Status): callers on the control thread decide
// whether a failure stops start-up or is logged and retried.
#pragma once

#include <string>
#include <utility>

namespace store {

enum class ErrorKind {
  kNone,
  kUnwritableDir,  // DATA_DIR missing and not creatable, or not writable
  kCorrupt,        // not an SQLite database, or quick_check found damage
  kLocked,         // another process holds the database lock beyond the busy timeout
  kTooNew,         // written by a newer qodo2api (unknown schema version)
  kIo,             // any other SQLite or file-system failure
};

class Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  bool ok() const { return kind_ == ErrorKind::kNone; }
  ErrorKind kind() const { return kind_; }
  // One line naming the file and the cause; never holds account secrets.
  const std::string& message() const { return message_; }

 private:
  ErrorKind kind_ = ErrorKind::kNone;
  std::string message_;
};

}  // namespace store
