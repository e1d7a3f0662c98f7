// The admin API (SPEC.md §8) over the account pool: list, add (after a real token exchange or
// get-things), bulk import, delete, disable, re-enable and test. Answers on the worker that took the request; additions complete on the
// control thread and are posted back.
#pragma once

#include <cstdint>
#include <memory>

#include "http/exchange.h"

namespace boost::asio {
class io_context;
}
namespace accounts {
class AccountPool;
}
namespace relay {
class ChatRelay;
}
namespace boost::json {
class array;
}

namespace http {

class AdminApi {
 public:
  // `relay`: this worker's, for account tests.
  AdminApi(boost::asio::io_context& io, accounts::AccountPool& pool, relay::ChatRelay& relay)
      : io_(io), pool_(pool), relay_(relay) {}

  void list(const std::shared_ptr<Exchange>& exchange);
  void add(const std::shared_ptr<Exchange>& exchange);
  void remove(const std::shared_ptr<Exchange>& exchange, int64_t id);
  void enable(const std::shared_ptr<Exchange>& exchange, int64_t id);
  void disable(const std::shared_ptr<Exchange>& exchange, int64_t id);
  // A tiny real request on that account: {"ok","latency_ms","model","answer"|"error"}.
  void test(const std::shared_ptr<Exchange>& exchange, int64_t id);

 private:
  // {"accounts":[…]}: every entry added at once; 207 with one result per entry.
  void addMany(const std::shared_ptr<Exchange>& exchange, const boost::json::array& entries);

  boost::asio::io_context& io_;
  accounts::AccountPool& pool_;
  relay::ChatRelay& relay_;
};

}  // namespace http
