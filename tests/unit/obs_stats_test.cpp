// The console's last hour (obs/stats.h): per-minute counts, errors by kind, latency quantiles
// from the histogram, 60 minutes and no more.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "obs/stats.h"

namespace {

using namespace std::chrono;

TEST(TrafficStats, CountsAMinuteAndForgetsTheHourBefore) {
  obs::TrafficStats stats;
  const auto t0 = system_clock::from_time_t(1796169600);  // a minute's start
  stats.record(t0, 200, 0.004, 10, 5);
  stats.record(t0 + 10s, 200, 0.2, 20, 7);
  stats.record(t0 + 20s, 429, 0.001, -1, -1);
  stats.record(t0 + 30s, 529, 0.001, -1, -1);
  stats.record(t0 + 40s, 504, 60, -1, -1);
  stats.record(t0 + 50s, 400, 0.001, -1, -1);
  const auto doc = boost::json::parse(stats.json(t0 + 59s)).as_object();
  const auto& minutes = doc.at("minutes").as_array();
  ASSERT_EQ(minutes.size(), 60u);
  const auto& last = minutes.back().as_object();
  EXPECT_EQ(last.at("t").as_int64(), 1796169600);
  EXPECT_EQ(last.at("requests").as_int64(), 6);
  EXPECT_EQ(last.at("tokens_in").as_int64(), 30);
  EXPECT_EQ(last.at("tokens_out").as_int64(), 12);
  const auto& errors = last.at("errors").as_object();
  EXPECT_EQ(errors.at("rate_limited").as_int64(), 1);
  EXPECT_EQ(errors.at("unavailable").as_int64(), 1);
  EXPECT_EQ(errors.at("timeout").as_int64(), 1);
  EXPECT_EQ(errors.at("client").as_int64(), 1);
  EXPECT_EQ(last.at("p50_ms").as_int64(), 5);
  EXPECT_EQ(last.at("p99_ms").as_int64(), 60000);
  EXPECT_EQ(minutes.front().as_object().at("requests").as_int64(), 0);
  // An hour later the minute's slot is reused, and the old counts are gone.
  stats.record(t0 + 60min, 200, 0.01, 1, 1);
  const auto later = boost::json::parse(stats.json(t0 + 60min)).as_object();
  EXPECT_EQ(later.at("minutes").as_array().back().as_object().at("requests").as_int64(), 1);
  EXPECT_EQ(later.at("minutes").as_array().front().as_object().at("requests").as_int64(), 0);
}

}  // namespace
