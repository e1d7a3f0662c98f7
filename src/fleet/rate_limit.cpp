#include "fleet/rate_limit.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "fleet/scripts.h"

namespace fleet {

FleetRateLimit::FleetRateLimit(boost::asio::io_context& control, FleetSync& fleet, int limit)
    : control_(control),
      fleet_(fleet),
      limit_(std::to_string(limit)),
      window_(std::to_string(std::chrono::milliseconds(http::RateLimiter::kWindow).count())) {}

void FleetRateLimit::check(std::string_view ip,
                           std::function<void(std::optional<http::RateLimiter::Decision>)> done) {
  checks_.fetch_add(1, std::memory_order_relaxed);
  // Each request is one member of the window: this instance's name and a sequence number.
  std::string member =
      fleet_.instance() + ":" + std::to_string(sequence_.fetch_add(1, std::memory_order_relaxed));
  boost::asio::post(control_, [this, key = rateKey(ip), member = std::move(member),
                               done = std::move(done)]() mutable {
    kRateLimit.run(
        fleet_.redis(), {std::move(key)}, {limit_, window_, std::move(member)},
        [done = std::move(done)](std::optional<store::RedisReply> reply) {
          if (!reply || reply->type != store::RedisReply::Type::kInteger) return done(std::nullopt);
          if (reply->integer <= 0) return done(http::RateLimiter::Decision{});
          const auto seconds = static_cast<int>((reply->integer + 999) / 1000);
          done(http::RateLimiter::Decision{
              false, std::clamp(seconds, 1, static_cast<int>(http::RateLimiter::kWindow.count()))});
        });
  });
}

}  // namespace fleet
