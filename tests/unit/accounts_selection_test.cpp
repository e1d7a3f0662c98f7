// Account selection strategies, as a pure choice among candidates.
#include <gtest/gtest.h>

#include <vector>

#include "accounts/selection.h"

namespace accounts {
namespace {

using config::AccountStrategy;
using std::chrono::seconds;

TEST(AccountSelection, NothingToChooseFromIsNothing) {
  EXPECT_EQ(choose({}, AccountStrategy::kRandom, 7, 0), std::nullopt);
  EXPECT_EQ(choose({}, AccountStrategy::kRoundRobin, 7, 0), std::nullopt);
  EXPECT_EQ(choose({}, AccountStrategy::kLeastBusy, 7, 0), std::nullopt);
}

TEST(AccountSelection, RandomSpreadsOverEveryCandidate) {
  std::vector<Candidate> c = {{1, 0, {}}, {2, 0, {}}, {5, 0, {}}};
  std::vector<int> hits(3, 0);
  for (uint64_t r = 0; r < 300; ++r) ++hits[*choose(c, AccountStrategy::kRandom, r, 0)];
  for (int h : hits) EXPECT_EQ(h, 100);
}

TEST(AccountSelection, RoundRobinTakesTheNextIdAndWraps) {
  std::vector<Candidate> c = {{1, 0, {}}, {4, 0, {}}, {9, 0, {}}};
  EXPECT_EQ(choose(c, AccountStrategy::kRoundRobin, 0, 0), 0u);
  EXPECT_EQ(choose(c, AccountStrategy::kRoundRobin, 0, 1), 1u);
  EXPECT_EQ(choose(c, AccountStrategy::kRoundRobin, 0, 4), 2u);
  EXPECT_EQ(choose(c, AccountStrategy::kRoundRobin, 0, 9), 0u);
  // The last chosen account may have left the candidates (tried, cooling): the next id follows.
  EXPECT_EQ(choose(c, AccountStrategy::kRoundRobin, 0, 5), 2u);
}

TEST(AccountSelection, LeastBusyTakesFewestInFlightThenLongestUnused) {
  const TimePoint t(seconds(1000));
  std::vector<Candidate> c = {{1, 2, t}, {2, 1, t + seconds(5)}, {3, 1, t}, {4, 3, {}}};
  EXPECT_EQ(choose(c, AccountStrategy::kLeastBusy, 0, 0), 2u);
  c.push_back({5, 1, std::nullopt});
  EXPECT_EQ(choose(c, AccountStrategy::kLeastBusy, 0, 0), 4u) << "never used goes first";
}

}  // namespace
}  // namespace accounts
