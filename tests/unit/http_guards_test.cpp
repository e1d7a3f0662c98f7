#include "http/guards.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace {
const auto kEpoch = std::chrono::steady_clock::time_point{} + 1000h;
}

TEST(RateLimiter, AllowsTheLimitThenRefusesWithRetryAfter) {
  http::RateLimiter limiter(3, kEpoch);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("1.1.1.1", kEpoch + 1s).allowed);
  auto d = limiter.check("1.1.1.1", kEpoch + 2s);
  EXPECT_FALSE(d.allowed);
  EXPECT_GE(d.retryAfterSeconds, 1);
  EXPECT_LE(d.retryAfterSeconds, 120);
  EXPECT_TRUE(limiter.check("2.2.2.2", kEpoch + 2s).allowed) << "each IP has its own window";
}

TEST(RateLimiter, TheWindowSlides) {
  http::RateLimiter limiter(10, kEpoch);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.check("ip", kEpoch + 50s).allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 59s).allowed);
  // 30 s into the next window half of the previous one still counts: 5 left.
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.check("ip", kEpoch + 90s).allowed;
  EXPECT_EQ(allowed, 5);
  // Two windows later everything is forgotten.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.check("ip", kEpoch + 200s).allowed);
}

TEST(RateLimiter, RetryAfterIsWhenARequestPassesAgain) {
  http::RateLimiter limiter(2, kEpoch);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 10s).allowed);
  ASSERT_TRUE(limiter.check("ip", kEpoch + 10s).allowed);
  auto d = limiter.check("ip", kEpoch + 10s);
  ASSERT_FALSE(d.allowed);
  EXPECT_FALSE(limiter.check("ip", kEpoch + 10s + std::chrono::seconds(d.retryAfterSeconds - 1)).allowed);
  EXPECT_TRUE(limiter.check("ip", kEpoch + 10s + std::chrono::seconds(d.retryAfterSeconds) + 1s).allowed);
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  http::RateLimiter limiter(0, kEpoch);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.check("ip", kEpoch).allowed);
}

TEST(RateLimiter, IdleIpsAreForgotten) {
  http::RateLimiter limiter(100, kEpoch);
  for (int i = 0; i < 20000; ++i) limiter.check("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), kEpoch);
  EXPECT_EQ(limiter.trackedIps(), 20000u);
  for (int i = 0; i < 70000; ++i) limiter.check("active", kEpoch + 10min + std::chrono::milliseconds(i));
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
