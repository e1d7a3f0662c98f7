// The account state machine: what each backend outcome does to each state, with a fake clock.
#include <gtest/gtest.h>

#include "accounts/state.h"

namespace accounts {
namespace {

using std::chrono::seconds;

const TimePoint kNow = TimePoint(seconds(1'700'000'000));
const seconds kLock{600};

Status active() { return {State::kActive, std::nullopt}; }
Status cooling(TimePoint until) { return {State::kCooling, until}; }
Status exhausted() { return {State::kExhausted, std::nullopt}; }
Status invalid() { return {State::kInvalid, std::nullopt}; }

TEST(AccountState, SuccessKeepsAnActiveAccountActive) {
  EXPECT_EQ(transition(active(), Outcome::kSuccess, kNow, kLock), active());
}

TEST(AccountState, RateLimitRestsTheAccountForTheLockDuration) {
  EXPECT_EQ(transition(active(), Outcome::kRateLimited, kNow, kLock), cooling(kNow + kLock));
}

TEST(AccountState, RateLimitDuringACoolDownExtendsIt) {
  auto later = kNow + seconds(100);
  EXPECT_EQ(transition(cooling(kNow + seconds(300)), Outcome::kRateLimited, later, kLock),
            cooling(later + kLock));
}

TEST(AccountState, CoolingAccountIsActiveAgainOnceTheCoolDownEnds) {
  const auto until = kNow + kLock;
  EXPECT_EQ(effective(cooling(until), until - seconds(1)).state, State::kCooling);
  EXPECT_EQ(effective(cooling(until), until), active());
  EXPECT_EQ(transition(cooling(until), Outcome::kSuccess, until + seconds(1), kLock), active());
}

TEST(AccountState, SuccessWhileStillCoolingKeepsTheCoolDown) {
  const auto until = kNow + kLock;
  EXPECT_EQ(transition(cooling(until), Outcome::kSuccess, kNow, kLock), cooling(until));
}

TEST(AccountState, UsageExhaustionTakesTheAccountOutUntilEnabled) {
  EXPECT_EQ(transition(active(), Outcome::kUsageExhausted, kNow, kLock), exhausted());
  EXPECT_EQ(transition(cooling(kNow + kLock), Outcome::kUsageExhausted, kNow, kLock), exhausted());
  // Sticky: later outcomes (in-flight requests finishing) do not bring it back.
  for (Outcome o : {Outcome::kSuccess, Outcome::kRateLimited, Outcome::kFailure, Outcome::kNeutral,
                    Outcome::kUsageExhausted}) {
    EXPECT_EQ(transition(exhausted(), o, kNow + seconds(99999), kLock), exhausted())
        << outcomeName(o);
  }
}

TEST(AccountState, SecondUnauthorizedMarksTheAccountInvalidFromAnyState) {
  for (Status s : {active(), cooling(kNow + kLock), exhausted(), invalid()}) {
    EXPECT_EQ(transition(s, Outcome::kInvalidToken, kNow, kLock), invalid());
  }
}

TEST(AccountState, InvalidIsStickyAndOutranksExhaustion) {
  for (Outcome o : {Outcome::kSuccess, Outcome::kRateLimited, Outcome::kUsageExhausted,
                    Outcome::kFailure, Outcome::kNeutral}) {
    EXPECT_EQ(transition(invalid(), o, kNow, kLock), invalid()) << outcomeName(o);
  }
}

TEST(AccountState, FailureAndNeutralOutcomesLeaveTheStateAlone) {
  for (Outcome o : {Outcome::kFailure, Outcome::kNeutral}) {
    EXPECT_EQ(transition(active(), o, kNow, kLock), active());
    EXPECT_EQ(transition(cooling(kNow + kLock), o, kNow, kLock), cooling(kNow + kLock));
  }
}

TEST(AccountState, OnlyClientSideProblemsAndSuccessAreNotFailures) {
  EXPECT_FALSE(isFailure(Outcome::kSuccess));
  EXPECT_FALSE(isFailure(Outcome::kNeutral));
  EXPECT_TRUE(isFailure(Outcome::kFailure));
  EXPECT_TRUE(isFailure(Outcome::kRateLimited));
  EXPECT_TRUE(isFailure(Outcome::kUsageExhausted));
  EXPECT_TRUE(isFailure(Outcome::kInvalidToken));
}

TEST(AccountState, StateNamesRoundTrip) {
  for (State s : {State::kActive, State::kCooling, State::kExhausted, State::kInvalid}) {
    EXPECT_EQ(parseState(stateName(s)), s);
  }
  EXPECT_EQ(stateName(State::kCooling), "cooling");
  EXPECT_EQ(parseState("sleeping"), std::nullopt);
}

}  // namespace
}  // namespace accounts
