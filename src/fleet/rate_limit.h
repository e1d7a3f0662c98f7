// The per-IP rate limit of SPEC §2 held for the whole fleet (§12): every instance counts into
// one sliding window per client IP in Redis (a sorted set of request times, trimmed and checked
// by one script: one round trip per request). When Redis does not answer, the gateway falls
// back to the instance's own window.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "fleet/fleet_sync.h"
#include "http/guards.h"

namespace fleet {

class FleetRateLimit final : public http::SharedRateLimit {
 public:
  // `limit`: REQUEST_RATE_LIMIT (> 0).
  FleetRateLimit(boost::asio::io_context& control, FleetSync& fleet, int limit);

  bool available() const override { return fleet_.redis().up(); }
  // Any thread: the check runs on the control thread; `done` runs there too.
  void check(std::string_view ip,
             std::function<void(std::optional<http::RateLimiter::Decision>)> done) override;

  uint64_t checks() const { return checks_.load(std::memory_order_relaxed); }

 private:
  boost::asio::io_context& control_;
  FleetSync& fleet_;
  const std::string limit_;
  const std::string window_;  // milliseconds
  std::atomic<uint64_t> sequence_{0};
  std::atomic<uint64_t> checks_{0};
};

}  // namespace fleet
