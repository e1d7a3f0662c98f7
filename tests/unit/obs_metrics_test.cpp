#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <thread>

TEST(Metrics, SumsCountersAcrossShards) {
  obs::Metrics metrics(3);
  metrics.shard(0).count("requests_total", "route=\"/a\"");
  metrics.shard(1).count("requests_total", "route=\"/a\"", 2);
  metrics.shard(2).count("requests_total", "route=\"/b\"");
  const std::string text = metrics.render();
  EXPECT_NE(text.find("requests_total{route=\"/a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{route=\"/b\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE requests_total counter\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithShortLabels) {
  obs::Metrics metrics(1);
  metrics.shard(0).observe("duration_seconds", "route=\"/a\"", 0.003);
  metrics.shard(0).observe("duration_seconds", "route=\"/a\"", 0.2);
  metrics.shard(0).observe("duration_seconds", "route=\"/a\"", 500);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("duration_seconds_bucket{route=\"/a\",le=\"0.25\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("duration_seconds_count{route=\"/a\"} 3\n"), std::string::npos);
}

TEST(Metrics, DescribedCountersShowZeroFamiliesAndCollectorsAppend) {
  obs::Metrics metrics(1);
  metrics.describe("attempts_total", "counter", "Backend attempts");
  metrics.addCollector([](std::string& out) { out += "pool_accounts{state=\"active\"} 2\n"; });
  const std::string text = metrics.render();
  EXPECT_NE(text.find("# HELP attempts_total Backend attempts\n"), std::string::npos);
  EXPECT_NE(text.find("pool_accounts{state=\"active\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("qodo2api_active_streams 0\n"), std::string::npos);
}

TEST(Metrics, ConcurrentWritersAndScrapesLoseNothing) {
  obs::Metrics metrics(2);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) metrics.shard(t).count("n_total", "");
    });
  for (int i = 0; i < 50; ++i) metrics.render();
  for (auto& th : threads) th.join();
  EXPECT_NE(metrics.render().find("n_total 20000\n"), std::string::npos);
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(obs::escapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
