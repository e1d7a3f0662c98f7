// The token refresher on a real io_context with a fake Firebase: start-up in parallel, rejection,
// rotation persisted, back-off on 5xx, refresh before expiry, 401 refreshes, admin add/enable.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "accounts/merge.h"
#include "accounts/refresher.h"
#include "accounts/token_hash.h"

namespace accounts {
namespace {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

// Answers each exchange after `latency` with what `script` says for (refresh token, n-th call
// for that token, counting from 0).
class FakeFirebase {
 public:
  using Script = std::function<ExchangeResult(const std::string& token, int call)>;
  FakeFirebase(boost::asio::io_context& io, Script script) : io_(io), script_(std::move(script)) {}

  Exchanger exchanger() {
    return [this](const ExchangeRequest& request, ExchangeDone done) {
      int call;
      {
        std::lock_guard lock(mutex_);
        call = perToken_[request.refreshToken]++;
        calls_.push_back({request.refreshToken, std::chrono::steady_clock::now()});
        maxOutstanding_ = std::max(maxOutstanding_, ++outstanding_);
      }
      ExchangeResult result = script_(request.refreshToken, call);
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, latency);
      timer->async_wait([this, timer, result, done](const boost::system::error_code&) {
        {
          std::lock_guard lock(mutex_);
          --outstanding_;
        }
        done(result);
      });
    };
  }

  std::vector<SteadyTime> callsFor(const std::string& token) {
    std::lock_guard lock(mutex_);
    std::vector<SteadyTime> out;
    for (const auto& [t, when] : calls_)
      if (t == token) out.push_back(when);
    return out;
  }
  size_t callCount() {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }
  int maxOutstanding() {
    std::lock_guard lock(mutex_);
    return maxOutstanding_;
  }

  std::chrono::milliseconds latency = 30ms;

 private:
  boost::asio::io_context& io_;
  Script script_;
  std::mutex mutex_;
  std::map<std::string, int> perToken_;
  std::vector<std::pair<std::string, SteadyTime>> calls_;
  int outstanding_ = 0;
  int maxOutstanding_ = 0;
};

ExchangeResult ok(std::string access, std::chrono::milliseconds life = 3600s,
                  std::string rotated = {}) {
  ExchangeResult r;
  r.status = ExchangeStatus::kOk;
  r.accessToken = std::move(access);
  r.expiresIn = life;
  r.refreshToken = std::move(rotated);
  return r;
}

ExchangeResult failed(ExchangeStatus status, std::string error) {
  ExchangeResult r;
  r.status = status;
  r.error = std::move(error);
  return r;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 3000ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// The control thread of a test: pool, persister (no store unless given), refresher.
class RefresherTest : public ::testing::Test {
 protected:
  void begin(FakeFirebase::Script script, std::vector<config::AccountSpec> env,
             store::AccountStore* db = nullptr, RefresherOptions options = fastOptions()) {
    firebase_ = std::make_unique<FakeFirebase>(io_, std::move(script));
    ASSERT_EQ(loadAccounts(db, env, pool_, Clock::now()), "");
    persister_ = std::make_unique<Persister>(io_, pool_, db, 20ms);
    refresher_ =
        std::make_unique<TokenRefresher>(io_, pool_, *persister_, firebase_->exchanger(), options);
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    refresher_.reset();
    if (persister_) persister_->flush();
  }
  static RefresherOptions fastOptions() {
    RefresherOptions o;
    o.minDelay = 10ms;
    o.backoffBase = 50ms;
    o.backoffCap = 200ms;
    o.seed = 1;
    return o;
  }
  int64_t idOf(const std::string& firstToken) { return *pool_.findByHash(sha256Hex(firstToken)); }

  boost::asio::io_context io_;
  AccountPool pool_{PoolOptions{config::AccountStrategy::kRandom, 600s, 3}};
  std::unique_ptr<FakeFirebase> firebase_;
  std::unique_ptr<Persister> persister_;
  std::unique_ptr<TokenRefresher> refresher_;
  std::thread thread_;
};

TEST(RefreshTiming, RefreshesAtEightyPercentWithJitterAndBacksOffExponentially) {
  RefresherOptions o;
  EXPECT_EQ(refreshDelay(3600s, o, 0.0), 2880s);
  EXPECT_EQ(refreshDelay(3600s, o, 1.0), 3168s);
  EXPECT_EQ(refreshDelay(3600s, o, -1.0), 2592s);
  EXPECT_EQ(refreshDelay(0s, o, 0.0), o.minDelay);
  EXPECT_EQ(backoffDelay(1, o), 1s);
  EXPECT_EQ(backoffDelay(2, o), 2s);
  EXPECT_EQ(backoffDelay(5, o), 16s);
  EXPECT_EQ(backoffDelay(12, o), 300s);
  EXPECT_EQ(backoffDelay(1000, o), 300s);
}

TEST_F(RefresherTest, StartExchangesEveryAccountInParallelAndMainCanWaitForIt) {
  begin([](const std::string& t, int) { return ok("access-" + t); },
        {{"k", "tokA"}, {"k", "tokB"}, {"k", "tokC"}});
  firebase_->latency = 150ms;
  EXPECT_EQ(pool_.counts(Clock::now()).usable, 0u);
  const auto started = std::chrono::steady_clock::now();
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 400ms) << "one round trip, not three";
  EXPECT_EQ(firebase_->maxOutstanding(), 3);
  EXPECT_EQ(pool_.counts(Clock::now()).usable, 3u);
  EXPECT_EQ(pool_.find(idOf("tokB"))->accessToken, "access-tokB");
  EXPECT_EQ(refresher_->refreshCounts().ok, 3u);
}

TEST_F(RefresherTest, WaitingForStartUpEndsAtTheDeadline) {
  begin([](const std::string& t, int) { return ok("a"); }, {{"k", "tokA"}});
  firebase_->latency = 2s;
  refresher_->start();
  EXPECT_FALSE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 50ms));
}

TEST_F(RefresherTest, RejectedTokenMarksTheAccountInvalidAndTheRestServe) {
  begin(
      [](const std::string& t, int) {
        return t == "tokB" ? failed(ExchangeStatus::kRejected, "INVALID_REFRESH_TOKEN")
                           : ok("access");
      },
      {{"k", "tokA"}, {"k", "tokB"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  auto b = *pool_.find(idOf("tokB"));
  EXPECT_EQ(b.status.state, State::kInvalid);
  EXPECT_EQ(b.lastError, "token exchange rejected: INVALID_REFRESH_TOKEN");
  auto c = pool_.counts(Clock::now());
  EXPECT_EQ(c.invalid, 1u);
  EXPECT_EQ(c.usable, 1u);
  EXPECT_EQ(refresher_->refreshCounts().rejected, 1u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(firebase_->callsFor("tokB").size(), 1u) << "a rejected token is not retried";
}

TEST_F(RefresherTest, ServerErrorsAreRetriedWithGrowingBackOff) {
  begin(
      [](const std::string&, int call) {
        return call < 3 ? failed(ExchangeStatus::kTransient, "HTTP 503") : ok("access");
      },
      {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  EXPECT_EQ(pool_.find(idOf("tokA"))->status.state, State::kActive);
  EXPECT_EQ(pool_.find(idOf("tokA"))->lastError, "token exchange failed: HTTP 503");
  ASSERT_TRUE(eventually([&] { return pool_.counts(Clock::now()).usable == 1; }));
  auto calls = firebase_->callsFor("tokA");
  ASSERT_EQ(calls.size(), 4u);
  // 50, 100, 200 ms waits (plus the 30 ms answer each time).
  EXPECT_GE(calls[1] - calls[0], 75ms);
  EXPECT_GE(calls[2] - calls[1], 125ms);
  EXPECT_GE(calls[3] - calls[2], 225ms);
  EXPECT_EQ(refresher_->refreshCounts().transient, 3u);
}

TEST_F(RefresherTest, TheOldTokenServesWhileARefreshIsRetried) {
  begin(
      [](const std::string&, int call) {
        return call == 0 ? ok("first", 500ms) : failed(ExchangeStatus::kTransient, "timeout");
      },
      {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  ASSERT_TRUE(eventually([&] { return firebase_->callsFor("tokA").size() >= 2; }));
  EXPECT_EQ(pool_.acquire({}, Clock::now())->accessToken, "first");
  // Past the token's expiry the account is out of rotation until a refresh succeeds.
  EXPECT_TRUE(eventually([&] { return pool_.counts(Clock::now()).usable == 0; }));
}

TEST_F(RefresherTest, TokensAreRefreshedBeforeTheyExpire) {
  begin([](const std::string&, int call) { return ok("access-" + std::to_string(call), 400ms); },
        {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(eventually([&] { return firebase_->callsFor("tokA").size() >= 4; }));
  auto calls = firebase_->callsFor("tokA");
  for (size_t i = 1; i < calls.size(); ++i) {
    // 400 ms × 0.8 ± 10 % after the previous answer, which came 30 ms after its call.
    EXPECT_GE(calls[i] - calls[i - 1], 310ms);
    EXPECT_LT(calls[i] - calls[i - 1], 430ms) << "the token would have expired";
  }
}

TEST_F(RefresherTest, RotatedRefreshTokenIsUsedAndPersisted) {
  char pattern[] = "/tmp/refresher_test_XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::unique_ptr<store::AccountStore> db;
  ASSERT_TRUE(store::AccountStore::open({.dataDir = dir}, &db).ok());
  begin([](const std::string& t,
           int) { return t == "tokA" ? ok("a1", 200ms, "tokA-rotated") : ok("a2", 3600s); },
        {{"k", "tokA"}}, db.get());
  refresher_->start();
  ASSERT_TRUE(eventually([&] { return firebase_->callsFor("tokA-rotated").size() >= 1; }))
      << "the next refresh uses the rotated token";
  EXPECT_EQ(pool_.find(idOf("tokA"))->refreshToken, "tokA-rotated");
  ASSERT_TRUE(eventually([&] { return persister_->batchesWritten() >= 1; }));
  io_.stop();
  thread_.join();
  std::vector<store::StoredAccount> rows;
  ASSERT_TRUE(db->loadAll(&rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].refreshToken, "tokA-rotated");
  EXPECT_EQ(rows[0].originalTokenHash, sha256Hex("tokA"));
  refresher_.reset();
  persister_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(RefresherTest, RefreshNowSharesOneExchangeBetweenConcurrentCallers) {
  begin([](const std::string&, int call) { return ok("access-" + std::to_string(call)); },
        {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  const int64_t id = idOf("tokA");
  std::mutex m;
  std::vector<std::optional<std::string>> got;
  for (int i = 0; i < 3; ++i) {
    pool_.refreshNow(id, [&](std::optional<std::string> t) {
      std::lock_guard lock(m);
      got.push_back(t);
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return got.size() == 3;
  }));
  for (const auto& t : got) EXPECT_EQ(t, "access-1");
  EXPECT_EQ(firebase_->callsFor("tokA").size(), 2u);
  EXPECT_EQ(pool_.find(id)->accessToken, "access-1");
}

TEST_F(RefresherTest, RefreshNowOfARejectedTokenAnswersNothingAndInvalidates) {
  begin(
      [](const std::string&, int call) {
        return call == 0 ? ok("a") : failed(ExchangeStatus::kRejected, "USER_DISABLED");
      },
      {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  std::atomic<int> answers{0};
  std::optional<std::string> token = "unset";
  pool_.refreshNow(idOf("tokA"), [&](std::optional<std::string> t) {
    token = t;
    ++answers;
  });
  ASSERT_TRUE(eventually([&] { return answers == 1; }));
  EXPECT_EQ(token, std::nullopt);
  EXPECT_EQ(pool_.find(idOf("tokA"))->status.state, State::kInvalid);
}

TEST_F(RefresherTest, AdminAddExchangesFirstAndRejectsBadOrDuplicateTokens) {
  begin(
      [](const std::string& t, int) {
        if (t == "bad") return failed(ExchangeStatus::kRejected, "INVALID_REFRESH_TOKEN");
        if (t == "flaky") return failed(ExchangeStatus::kTransient, "HTTP 502");
        return ok("access-" + t);
      },
      {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  auto add = [&](std::string token) {
    std::promise<AddResult> p;
    pool_.add({"k", std::move(token)}, [&](AddResult r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  AddResult r = add("tokNew");
  ASSERT_TRUE(r.id) << r.message;
  EXPECT_EQ(pool_.find(*r.id)->accessToken, "access-tokNew");
  EXPECT_EQ(pool_.counts(Clock::now()).usable, 2u);
  EXPECT_EQ(add("bad").error, AddError::kInvalidToken);
  EXPECT_EQ(add("flaky").error, AddError::kExchangeFailed);
  r = add("tokA");
  EXPECT_EQ(r.error, AddError::kDuplicate);
  EXPECT_EQ(r.message.find("tokA"), std::string::npos);
  EXPECT_EQ(pool_.ids().size(), 2u);
}

TEST_F(RefresherTest, EnablingAnInvalidAccountExchangesAgain) {
  begin(
      [](const std::string&, int call) {
        return call == 0 ? failed(ExchangeStatus::kRejected, "TOKEN_EXPIRED") : ok("back");
      },
      {{"k", "tokA"}});
  refresher_->start();
  ASSERT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 3s));
  const int64_t id = idOf("tokA");
  ASSERT_EQ(pool_.find(id)->status.state, State::kInvalid);
  EXPECT_TRUE(pool_.enable(id, Clock::now()));
  ASSERT_TRUE(eventually([&] { return pool_.counts(Clock::now()).usable == 1; }));
  EXPECT_EQ(pool_.acquire({}, Clock::now())->accessToken, "back");
}

TEST_F(RefresherTest, InvalidAccountsAreNotExchangedAtStartUp) {
  AccountPool& pool = pool_;
  begin([](const std::string&, int) { return ok("a"); }, {});
  Account a;
  a.id = 9;
  a.refreshToken = "tokDead";
  a.status.state = State::kInvalid;
  pool.insert(a);
  refresher_->start();
  EXPECT_TRUE(refresher_->waitForInitial(std::chrono::steady_clock::now() + 1s));
  EXPECT_EQ(firebase_->callCount(), 0u);
}

}  // namespace
}  // namespace accounts
