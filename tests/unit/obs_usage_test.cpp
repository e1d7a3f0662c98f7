// Usage accounting (SPEC §13): totals per day, key and model; what changed goes to the store
// once; a bounded number of rows; the /metrics families.
#include <gtest/gtest.h>

#include "obs/usage.h"

namespace {

TEST(UsageLedger, CountsPerDayKeyAndModelAndHandsOverWhatChanged) {
  obs::UsageLedger ledger;
  ledger.add("2026-12-01", "alice", "gpt-4o", 10, 5);
  ledger.add("2026-12-01", "alice", "gpt-4o", 20, 7);
  ledger.add("2026-12-02", "bob", "claude-3-7-sonnet", 3, 1);
  const auto all = ledger.rows("", "");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (obs::UsageRow{"2026-12-01", "alice", "gpt-4o", 2, 30, 12}));
  EXPECT_EQ(ledger.rows("2026-12-02", "").size(), 1u);
  EXPECT_EQ(ledger.rows("", "2026-12-01").size(), 1u);
  EXPECT_TRUE(ledger.rows("2026-12-03", "2026-12-09").empty());
  EXPECT_EQ(ledger.takeChanged().size(), 2u);
  EXPECT_TRUE(ledger.takeChanged().empty());
  ledger.add("2026-12-02", "bob", "claude-3-7-sonnet", 1, 1);
  const auto changed = ledger.takeChanged();
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].requests, 2);  // totals, not deltas
  std::string metrics;
  ledger.render(metrics);
  EXPECT_NE(metrics.find("qodo2api_usage_requests_total{key=\"alice\",model=\"gpt-4o\"} 2"),
            std::string::npos);
  EXPECT_NE(metrics.find("qodo2api_usage_tokens_total{key=\"bob\",model=\"claude-3-7-sonnet\","
                         "direction=\"completion\"} 2"),
            std::string::npos);
}

TEST(UsageLedger, RowsAreBounded) {
  obs::UsageLedger ledger;
  for (size_t i = 0; i < obs::UsageLedger::kMaxRows + 10; ++i)
    ledger.add("2026-12-01", "k", "model-" + std::to_string(i), 1, 1);
  const auto rows = ledger.rows("", "");
  EXPECT_LE(rows.size(), obs::UsageLedger::kMaxRows + 1);
  EXPECT_EQ(rows.back().model, "model-99999");
  int64_t other = 0;
  for (const auto& r : rows)
    if (r.model == "(other)") other = r.requests;
  EXPECT_EQ(other, 10);
}

TEST(UsageDay, IsTheUtcDate) {
  EXPECT_EQ(obs::utcDay(std::chrono::system_clock::from_time_t(1796169600)), "2026-12-02");
}

}  // namespace
