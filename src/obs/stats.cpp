#include "obs/stats.h"

#include <cmath>

namespace obs {
namespace {

int64_t unixMinute(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

// The upper bound (ms) of the bucket holding quantile `q` of a histogram; 0 without data.
long quantileMs(const std::array<int64_t, std::size(kDurationBuckets) + 1>& h, double q) {
  int64_t total = 0;
  for (auto n : h) total += n;
  if (total == 0) return 0;
  const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(total)));
  int64_t seen = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    seen += h[i];
    if (seen >= rank)
      return i < std::size(kDurationBuckets) ? std::lround(kDurationBuckets[i] * 1000)
                                             : std::lround(kDurationBuckets[i - 1] * 1000);
  }
  return 0;
}

}  // namespace

void TrafficStats::record(std::chrono::system_clock::time_point now, int status, double seconds,
                          int64_t promptTokens, int64_t completionTokens) {
  const int64_t minute = unixMinute(now);
  std::lock_guard lock(mutex_);
  Minute& m = minutes_[static_cast<size_t>(minute % kMinutes)];
  if (m.start != minute) m = Minute{minute};
  ++m.requests;
  if (promptTokens > 0) m.tokensIn += promptTokens;
  if (completionTokens > 0) m.tokensOut += completionTokens;
  if (status == 429)
    ++m.rateLimited;
  else if (status == 503 || status == 529)
    ++m.unavailable;
  else if (status == 504)
    ++m.timeouts;
  else if (status >= 500)
    ++m.backend;
  else if (status >= 400 && status != 499)
    ++m.clientErrors;
  size_t bucket = 0;
  while (bucket < std::size(kDurationBuckets) && seconds > kDurationBuckets[bucket]) ++bucket;
  ++m.latency[bucket];
}

std::string TrafficStats::json(std::chrono::system_clock::time_point now) const {
  const int64_t last = unixMinute(now);
  std::string out = R"({"minutes":[)";
  std::lock_guard lock(mutex_);
  for (int64_t minute = last - static_cast<int64_t>(kMinutes) + 1; minute <= last; ++minute) {
    const Minute& stored = minutes_[static_cast<size_t>(minute % kMinutes)];
    const Minute m = stored.start == minute ? stored : Minute{minute};
    if (minute != last - static_cast<int64_t>(kMinutes) + 1) out += ',';
    out += R"({"t":)" + std::to_string(minute * 60) + R"(,"requests":)" +
           std::to_string(m.requests) + R"(,"tokens_in":)" + std::to_string(m.tokensIn) +
           R"(,"tokens_out":)" + std::to_string(m.tokensOut) + R"(,"errors":{"client":)" +
           std::to_string(m.clientErrors) + R"(,"rate_limited":)" + std::to_string(m.rateLimited) +
           R"(,"unavailable":)" + std::to_string(m.unavailable) + R"(,"backend":)" +
           std::to_string(m.backend) + R"(,"timeout":)" + std::to_string(m.timeouts) +
           R"(},"p50_ms":)" + std::to_string(quantileMs(m.latency, 0.5)) + R"(,"p99_ms":)" +
           std::to_string(quantileMs(m.latency, 0.99)) + "}";
  }
  out += "]}";
  return out;
}

}  // namespace obs
