// Checking an account with a tiny real request (SPEC §8): "Reply with OK." on the account's
// check model (accounts::checkModel), through the relay like any request but pinned to that
// account, so a failing check is treated as the same failure on a real request (the lease is
// released with its outcome). Used by POST /admin/accounts/{id}/test, the background checks of
// ACCOUNT_CHECK_INTERVAL_SECONDS and `qodo2api doctor`. Everything runs on the relay's thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>

#include "accounts/account.h"

namespace accounts {
class AccountPool;
}

namespace relay {

class ChatRelay;

using CheckDone = std::function<void(accounts::CheckResult)>;

// Checks account `id` once; `done` gets the result (also noted in the pool). An unknown id or a
// command account that has not listed models yet is a failed check that sends nothing.
void checkAccount(ChatRelay& relay, accounts::AccountPool& pool, int64_t id, CheckDone done);

// ACCOUNT_CHECK_INTERVAL_SECONDS: every account checked once per interval, the checks spread
// evenly over it, one at a time (so never two at once on one account).
class AccountChecker {
 public:
  AccountChecker(boost::asio::io_context& io, ChatRelay& relay, accounts::AccountPool& pool,
                 std::chrono::seconds interval);
  ~AccountChecker();
  void start();

 private:
  void next();

  boost::asio::steady_timer timer_;
  ChatRelay& relay_;
  accounts::AccountPool& pool_;
  std::chrono::seconds interval_;
  int64_t lastId_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
