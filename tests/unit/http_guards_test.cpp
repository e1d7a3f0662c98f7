#include <gtest/gtest.h>

#include "http/guards.h"

using namespace std::chrono_literals;

namespace {
const auto kEpoch = std::chrono::steady_clock::time_point{} + 1000h;
}

TEST(RateLimiter, AllowsTheLimitThenRefusesWithRetryAfter) {
  http::RateLimiter limiter(3, kEpoch);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("1.1.1.1", kEpoch + 1s).allowed);
  auto d = limiter.check("1.1.1.1", kEpoch + 2s);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfterSeconds, 59);
  EXPECT_TRUE(limiter.check("2.2.2.2", kEpoch + 2s).allowed) << "each IP has its own window";
}

TEST(RateLimiter, ARequestIsForgottenExactlySixtySecondsLater) {
  http::RateLimiter limiter(10, kEpoch);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.check("ip", kEpoch + 50s).allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 59s).allowed);
  // A sliding window, not two fixed ones: 40 s later all ten still count.
  EXPECT_FALSE(limiter.check("ip", kEpoch + 90s).allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 110s - 1ms).allowed);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.check("ip", kEpoch + 110s).allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 110s).allowed);
}

TEST(RateLimiter, RequestsSpreadOutLeaveOneAtATime) {
  http::RateLimiter limiter(3, kEpoch);
  ASSERT_TRUE(limiter.check("ip", kEpoch).allowed);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 10s).allowed);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 20s).allowed);
  auto d = limiter.check("ip", kEpoch + 30s);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfterSeconds, 30) << "the request at 0 s is forgotten at 60 s";
  EXPECT_TRUE(limiter.check("ip", kEpoch + 60s).allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 60s).allowed);
  EXPECT_EQ(limiter.check("ip", kEpoch + 65s).retryAfterSeconds, 5);
}

TEST(RateLimiter, ABurstAtTheLimitWaitsAtMostTheWindow) {
  // Issue 13: three requests in a burst with a limit of 3 were told Retry-After: 80.
  for (auto at : {0s, 1s, 59s, 60s, 61s, 119s, 150s}) {
    http::RateLimiter limiter(3, kEpoch);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.check("ip", kEpoch + at).allowed);
    auto d = limiter.check("ip", kEpoch + at + 200ms);
    ASSERT_FALSE(d.allowed);
    EXPECT_EQ(d.retryAfterSeconds, 60) << "burst at " << at.count() << " s";
  }
}

TEST(RateLimiter, RetryAfterIsWhenARequestPassesAgain) {
  http::RateLimiter limiter(2, kEpoch);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 10s).allowed);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 10s).allowed);
  auto d = limiter.check("ip", kEpoch + 10s);
  ASSERT_FALSE(d.allowed);
  EXPECT_FALSE(
      limiter.check("ip", kEpoch + 10s + std::chrono::seconds(d.retryAfterSeconds - 1)).allowed);
  EXPECT_TRUE(
      limiter.check("ip", kEpoch + 10s + std::chrono::seconds(d.retryAfterSeconds) + 1s).allowed);
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  http::RateLimiter limiter(0, kEpoch);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.check("ip", kEpoch).allowed);
}

TEST(RateLimiter, IdleIpsAreForgotten) {
  http::RateLimiter limiter(100, kEpoch);
  for (int i = 0; i < 20000; ++i)
    limiter.check("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), kEpoch);
  EXPECT_EQ(limiter.trackedIps(), 20000u);
  for (int i = 0; i < 70000; ++i)
    limiter.check("active", kEpoch + 10min + std::chrono::milliseconds(i));
  EXPECT_LT(limiter.trackedIps(), 20000u);
}

TEST(ClientIp, IsThePeerUnlessThePeerIsATrustedProxy) {
  std::vector<config::Cidr> trusted = {*config::Cidr::parse("10.0.0.0/8")};
  EXPECT_EQ(http::clientIp("1.2.3.4", "9.9.9.9", trusted), "1.2.3.4");
  EXPECT_EQ(http::clientIp("10.0.0.1", "9.9.9.9", trusted), "9.9.9.9");
  EXPECT_EQ(http::clientIp("10.0.0.1", "6.6.6.6, 9.9.9.9, 10.0.0.2", trusted), "9.9.9.9");
  EXPECT_EQ(http::clientIp("10.0.0.1", "", trusted), "10.0.0.1");
  EXPECT_EQ(http::clientIp("10.0.0.1", "garbage", trusted), "10.0.0.1");
  EXPECT_EQ(http::clientIp("::ffff:1.2.3.4", "", {}), "1.2.3.4");
  EXPECT_EQ(http::clientIp("1.2.3.4", "9.9.9.9", {}), "1.2.3.4");
}

TEST(IpBlockList, BlocksListedAddressesOnly) {
  http::IpBlockList list({"1.2.3.4", "::1"});
  EXPECT_TRUE(list.blocked("1.2.3.4"));
  EXPECT_TRUE(list.blocked("::1"));
  EXPECT_FALSE(list.blocked("1.2.3.5"));
}

TEST(ApiKeyAuth, AcceptsBearerOrBareKeyOfAnyConfiguredKey) {
  http::ApiKeyAuth auth({"sk-a", "sk-b"});
  EXPECT_TRUE(auth.allows("Bearer sk-a"));
  EXPECT_TRUE(auth.allows("Bearer sk-b"));
  EXPECT_TRUE(auth.allows("sk-a"));
  EXPECT_FALSE(auth.allows("Bearer sk-"));
  EXPECT_FALSE(auth.allows("Bearer sk-ab"));
  EXPECT_FALSE(auth.allows(""));
  EXPECT_FALSE(auth.allows("Bearer "));
  EXPECT_FALSE(http::ApiKeyAuth({}).enabled());
}
