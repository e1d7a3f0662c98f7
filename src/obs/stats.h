// The last hour of traffic, minute by minute, for the console's live charts (SPEC §13):
// requests, tokens in and out, errors by kind, and the latency histogram of each minute (the
// same buckets as /metrics), from which p50 and p99 are read. Bounded: 60 minutes, then the
// oldest minute is reused. Thread-safe; fed where /metrics is fed (every finished request).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "obs/metrics.h"

namespace obs {

class TrafficStats {
 public:
  static constexpr size_t kMinutes = 60;

  // One finished request: its status, duration and tokens (-1: none), at `now`.
  void record(std::chrono::system_clock::time_point now, int status, double seconds,
              int64_t promptTokens, int64_t completionTokens);
  // {"minutes":[{"t","requests","tokens_in","tokens_out","errors":{"client","rate_limited",
  // "unavailable","backend","timeout"},"p50_ms","p99_ms"}…]}, oldest first, the last hour up to
  // `now` (minutes without traffic are zeros).
  std::string json(std::chrono::system_clock::time_point now) const;

 private:
  struct Minute {
    int64_t start = -1;  // Unix minute; -1: unused
    int64_t requests = 0;
    int64_t tokensIn = 0;
    int64_t tokensOut = 0;
    int64_t clientErrors = 0;  // 4xx but 429
    int64_t rateLimited = 0;   // 429
    int64_t unavailable = 0;   // 503, 529: no usable account
    int64_t backend = 0;       // 500, 502 and other 5xx
    int64_t timeouts = 0;      // 504
    std::array<int64_t, std::size(kDurationBuckets) + 1> latency{};  // last: beyond the top
  };
  mutable std::mutex mutex_;
  std::array<Minute, kMinutes> minutes_;
};

}  // namespace obs
