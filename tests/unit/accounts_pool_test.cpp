// The account pool: acquire only hands out usable, untried accounts; release applies outcomes
// and counters; the admin view masks secrets.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "accounts/pool.h"

namespace accounts {
namespace {

using std::chrono::seconds;

const TimePoint kNow = TimePoint(seconds(1'700'000'000));

Account makeAccount(int64_t id, State state = State::kActive) {
  Account a;
  a.id = id;
  a.apiKey = "AIzaSyKey";
  a.refreshToken = "AMf-vB" + std::to_string(id) + "secretrefreshtoken";
  a.originalTokenHash = "hash" + std::to_string(id);
  a.accessToken = "access-" + std::to_string(id);
  a.accessExpiry = kNow + seconds(3600);
  a.status.state = state;
  if (state == State::kCooling) a.status.cooldownUntil = kNow + seconds(60);
  return a;
}

PoolOptions options(config::AccountStrategy strategy = config::AccountStrategy::kRandom) {
  return {strategy, seconds(600), 42};
}

TEST(AccountPool, AcquireNeverReturnsATriedOrUnusableAccount) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    AccountPool pool(options(static_cast<config::AccountStrategy>(round % 3)));
    std::set<int64_t> usable;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int64_t id = 1; id <= n; ++id) {
      Account a = makeAccount(id, static_cast<State>(rng() % 4));
      switch (rng() % 4) {
        case 0:
          a.accessToken.clear();
          break;  // never exchanged
        case 1:
          a.accessExpiry = kNow - seconds(1);
          break;  // expired
        case 2:
          if (a.status.state == State::kCooling) a.status.cooldownUntil = kNow;  // cooled down
          break;
        default:
          break;
      }
      if (isUsable(a, kNow)) usable.insert(id);
      pool.insert(std::move(a));
    }
    std::vector<int64_t> tried;
    for (int64_t id = 1; id <= n; ++id)
      if (rng() % 3 == 0) tried.push_back(id);
    std::set<int64_t> expected;
    for (int64_t id : usable)
      if (std::find(tried.begin(), tried.end(), id) == tried.end()) expected.insert(id);

    // Acquire until nothing is left, each time adding the chosen account to `tried`.
    std::set<int64_t> got;
    while (auto lease = pool.acquire(tried, kNow)) {
      EXPECT_TRUE(expected.count(lease->accountId)) << "round " << round;
      EXPECT_TRUE(got.insert(lease->accountId).second);
      tried.push_back(lease->accountId);
    }
    EXPECT_EQ(got, expected) << "round " << round;
  }
}

TEST(AccountPool, CooledDownAccountServesAgain) {
  AccountPool pool(options());
  pool.insert(makeAccount(1, State::kCooling));
  EXPECT_FALSE(pool.acquire({}, kNow));
  EXPECT_TRUE(pool.acquire({}, kNow + seconds(60)));
}

TEST(AccountPool, RoundRobinVisitsAccountsInTurn) {
  AccountPool pool(options(config::AccountStrategy::kRoundRobin));
  for (int64_t id : {3, 1, 2}) pool.insert(makeAccount(id));
  std::vector<int64_t> order;
  for (int i = 0; i < 6; ++i) order.push_back(pool.acquire({}, kNow)->accountId);
  EXPECT_EQ(order, (std::vector<int64_t>{1, 2, 3, 1, 2, 3}));
}

TEST(AccountPool, LeastBusyAvoidsAccountsWithLeasesInFlight) {
  AccountPool pool(options(config::AccountStrategy::kLeastBusy));
  for (int64_t id : {1, 2, 3}) pool.insert(makeAccount(id));
  std::set<int64_t> first;
  std::vector<Lease> leases;
  for (int i = 0; i < 3; ++i) {
    leases.push_back(*pool.acquire({}, kNow));
    first.insert(leases.back().accountId);
  }
  EXPECT_EQ(first.size(), 3u);
  pool.release(leases[1], Outcome::kSuccess, "", kNow);
  EXPECT_EQ(pool.acquire({}, kNow)->accountId, leases[1].accountId);
}

TEST(AccountPool, ReleaseAppliesTheOutcomeAndCounts) {
  AccountPool pool(options());
  pool.insert(makeAccount(1));
  auto lease = *pool.acquire({}, kNow);
  EXPECT_EQ(lease.accessToken, "access-1");
  EXPECT_EQ(pool.find(1)->inFlight, 1);
  pool.release(lease, Outcome::kRateLimited, "HTTP 429 Too many concurrent requests", kNow);
  auto a = *pool.find(1);
  EXPECT_EQ(a.inFlight, 0);
  EXPECT_EQ(a.status.state, State::kCooling);
  EXPECT_EQ(a.status.cooldownUntil, kNow + seconds(600));
  EXPECT_EQ(a.requests, 1u);
  EXPECT_EQ(a.failures, 1u);
  EXPECT_EQ(a.lastError, "HTTP 429 Too many concurrent requests");
  EXPECT_EQ(a.lastUsed, kNow);
  EXPECT_FALSE(pool.acquire({}, kNow + seconds(599)));
  auto again = pool.acquire({}, kNow + seconds(600));
  ASSERT_TRUE(again);
  pool.release(*again, Outcome::kNeutral, "Chinese detected", kNow + seconds(600));
  a = *pool.find(1);
  EXPECT_EQ(a.requests, 2u);
  EXPECT_EQ(a.failures, 1u) << "client-side problems are no failure";
  EXPECT_EQ(a.lastError, "HTTP 429 Too many concurrent requests");
}

TEST(AccountPool, ReleaseOfARemovedAccountIsIgnored) {
  AccountPool pool(options());
  pool.insert(makeAccount(1));
  auto lease = *pool.acquire({}, kNow);
  EXPECT_TRUE(pool.remove(1));
  pool.release(lease, Outcome::kFailure, "x", kNow);
  EXPECT_FALSE(pool.find(1));
  EXPECT_FALSE(pool.remove(1));
}

TEST(AccountPool, ListMasksTheRefreshTokenAndShowsEffectiveState) {
  AccountPool pool(options());
  pool.insert(makeAccount(1, State::kCooling));
  pool.insert(makeAccount(2, State::kExhausted));
  auto views = pool.list(kNow);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].key, "AMf-vB…");
  EXPECT_EQ(views[0].state, "cooling");
  EXPECT_EQ(views[0].cooldownUntil, 1'700'000'060);
  EXPECT_EQ(views[1].state, "exhausted");
  EXPECT_EQ(views[1].cooldownUntil, std::nullopt);
  views = pool.list(kNow + seconds(60));
  EXPECT_EQ(views[0].state, "active");
  EXPECT_EQ(views[0].cooldownUntil, std::nullopt);
}

TEST(AccountPool, CountsByStateAndUsable) {
  AccountPool pool(options());
  pool.insert(makeAccount(1));
  Account noToken = makeAccount(2);
  noToken.accessToken.clear();
  pool.insert(noToken);
  pool.insert(makeAccount(3, State::kCooling));
  pool.insert(makeAccount(4, State::kExhausted));
  pool.insert(makeAccount(5, State::kInvalid));
  auto c = pool.counts(kNow);
  EXPECT_EQ(c.active, 2u);
  EXPECT_EQ(c.cooling, 1u);
  EXPECT_EQ(c.exhausted, 1u);
  EXPECT_EQ(c.invalid, 1u);
  EXPECT_EQ(c.usable, 1u);
  EXPECT_EQ(c.total(), 5u);
}

class RecordingControl : public AccountControl {
 public:
  void refreshNow(int64_t id, RefreshCallback done) override {
    refreshed.push_back(id);
    done("new-token");
  }
  void add(config::AccountSpec, AddCallback done) override { done({7, AddError::kNone, {}}); }
  void exchangeSoon(int64_t id) override { exchanged.push_back(id); }
  std::vector<int64_t> refreshed;
  std::vector<int64_t> exchanged;
};

TEST(AccountPool, EnableBringsAnAccountBackAndExchangesWhenItHasNoToken) {
  AccountPool pool(options());
  RecordingControl control;
  pool.setControl(&control);
  pool.insert(makeAccount(1, State::kExhausted));
  Account invalid = makeAccount(2, State::kInvalid);
  invalid.accessToken.clear();
  invalid.lastError = "token exchange rejected: INVALID_REFRESH_TOKEN";
  pool.insert(invalid);
  EXPECT_TRUE(pool.enable(1, kNow));
  EXPECT_TRUE(pool.enable(2, kNow));
  EXPECT_FALSE(pool.enable(3, kNow));
  EXPECT_EQ(pool.find(1)->status.state, State::kActive);
  EXPECT_EQ(pool.find(2)->status.state, State::kActive);
  EXPECT_EQ(pool.find(2)->lastError, "");
  EXPECT_EQ(control.exchanged, std::vector<int64_t>{2});
  EXPECT_TRUE(pool.acquire(std::vector<int64_t>{2}, kNow));
}

TEST(AccountPool, RefreshAndAddGoToTheControlThread) {
  AccountPool pool(options());
  std::optional<std::string> token = "unset";
  pool.refreshNow(1, [&](std::optional<std::string> t) { token = t; });
  EXPECT_EQ(token, std::nullopt) << "without a control thread a refresh fails at once";
  AddResult added;
  pool.add({"k", "t"}, [&](AddResult r) { added = r; });
  EXPECT_EQ(added.error, AddError::kUnavailable);

  RecordingControl control;
  pool.setControl(&control);
  pool.refreshNow(1, [&](std::optional<std::string> t) { token = t; });
  EXPECT_EQ(token, "new-token");
  pool.add({"k", "t"}, [&](AddResult r) { added = r; });
  EXPECT_EQ(added.id, 7);
}

TEST(AccountPool, ConcurrentLeasesBalanceOut) {
  AccountPool pool(options(config::AccountStrategy::kLeastBusy));
  for (int64_t id = 1; id <= 4; ++id) pool.insert(makeAccount(id));
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto lease = pool.acquire({}, kNow);
        ASSERT_TRUE(lease);
        pool.release(*lease, Outcome::kSuccess, "", kNow);
      }
    });
  }
  for (auto& t : workers) t.join();
  uint64_t total = 0;
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(pool.find(id)->inFlight, 0);
    total += pool.find(id)->requests;
  }
  EXPECT_EQ(total, 8000u);
}

}  // namespace
}  // namespace accounts

namespace accounts {
namespace {

Account commandAccount(int64_t id, std::vector<std::string> models) {
  Account a = makeAccount(id);
  a.kind = AccountKind::kCommand;
  a.apiKey.clear();
  a.refreshToken = "qk-key-" + std::to_string(id) + "-0123456789";
  a.accessExpiry.reset();
  a.accessToken = a.refreshToken;
  a.info.models = std::move(models);
  return a;
}

TEST(AccountPoolRoutes, AModelGoesOnlyToAccountsThatServeIt) {
  AccountPool pool(options());
  pool.insert(makeAccount(1));                             // chats: the seed table
  pool.insert(commandAccount(2, {"gpt-5", "gpt-4o"}));     // command: its list
  pool.insert(commandAccount(3, {"claude-4.5-sonnet"}));
  for (int i = 0; i < 50; ++i) {
    auto seedOnly = pool.acquire({}, kNow, Route{"deepseek-r1", true, {}, {}});
    ASSERT_TRUE(seedOnly);
    EXPECT_EQ(seedOnly->accountId, 1);
    pool.release(*seedOnly, Outcome::kNeutral, "", kNow);
    auto live = pool.acquire({}, kNow, Route{"gpt-5", false, {}, {}});
    ASSERT_TRUE(live);
    EXPECT_EQ(live->accountId, 2);
    EXPECT_EQ(live->kind, AccountKind::kCommand);
    EXPECT_TRUE(live->refreshed) << "a command lease has no refresh to try";
    EXPECT_EQ(live->accessToken, "qk-key-2-0123456789");
    pool.release(*live, Outcome::kNeutral, "", kNow);
  }
  // gpt-4o: the chats account or command account 2, never 3; with images only the command one.
  std::set<int64_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto l = pool.acquire({}, kNow, Route{"gpt-4o", true, {}, {}});
    seen.insert(l->accountId);
    pool.release(*l, Outcome::kNeutral, "", kNow);
  }
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));
  auto images = pool.acquire({}, kNow, Route{"gpt-4o", true, AccountKind::kCommand, {}});
  EXPECT_EQ(images->accountId, 2);
  pool.release(*images, Outcome::kNeutral, "", kNow);
  auto pinned = pool.acquire({}, kNow, Route{"", true, {}, 3});
  EXPECT_EQ(pinned->accountId, 3);
  EXPECT_FALSE(pool.acquire({}, kNow, Route{"gpt-9", false, {}, {}}));
  const auto both = pool.offering(Route{"gpt-4o", true, {}, {}});
  EXPECT_TRUE(both.chats && both.command);
  const auto live = pool.offering(Route{"claude-4.5-sonnet", false, {}, {}});
  EXPECT_TRUE(!live.chats && live.command);
  const auto seed = pool.offering(Route{"deepseek-r1", true, {}, {}});
  EXPECT_TRUE(seed.chats && !seed.command);
  EXPECT_TRUE(pool.listsModel("claude-4.5-sonnet"));
  EXPECT_FALSE(pool.listsModel("deepseek-r1"));
  EXPECT_EQ(pool.liveModels(), (std::vector<std::string>{"claude-4.5-sonnet", "gpt-4o", "gpt-5"}));
}

TEST(AccountPoolRoutes, GetThingsAnswersMakeAKeyServeAndAUsedUpQuotaRestsItUntilTheReset) {
  AccountPool pool(options());
  Account a = commandAccount(1, {});
  a.accessToken.clear();  // get-things has not answered
  pool.insert(a);
  EXPECT_FALSE(pool.acquire({}, kNow));
  EXPECT_EQ(pool.unlistedCommandAccounts(), 1u);
  CommandInfo info;
  info.models = {"gpt-5"};
  info.quota = {50, 0, toUnixSeconds(kNow) + 3600};
  ASSERT_TRUE(pool.applyInfo(1, info, kNow));
  EXPECT_EQ(pool.unlistedCommandAccounts(), 0u);
  EXPECT_FALSE(pool.acquire({}, kNow)) << "its quota is used up";
  const auto view = pool.list(kNow).front();
  EXPECT_EQ(view.state, "cooling");
  EXPECT_EQ(view.cooldownUntil, toUnixSeconds(kNow) + 3600);
  EXPECT_EQ(view.quota, info.quota);
  auto later = pool.acquire({}, kNow + seconds(3601));
  ASSERT_TRUE(later) << "it serves again after the reset";
  EXPECT_EQ(later->accessToken, a.refreshToken);
}

TEST(AccountPoolRoutes, ADisabledAccountStaysDisabledWhateverHappensUntilEnabled) {
  AccountPool pool(options());
  pool.insert(makeAccount(1));
  auto lease = pool.acquire({}, kNow);
  ASSERT_TRUE(pool.disable(1));
  EXPECT_FALSE(pool.acquire({}, kNow));
  pool.release(*lease, Outcome::kRateLimited, "429", kNow);  // a request in flight ends
  EXPECT_EQ(pool.list(kNow).front().state, "disabled");
  EXPECT_EQ(pool.counts(kNow).disabled, 1u);
  ASSERT_TRUE(pool.enable(1, kNow));
  EXPECT_TRUE(pool.acquire({}, kNow));
  EXPECT_FALSE(pool.disable(99));
}

}  // namespace
}  // namespace accounts
