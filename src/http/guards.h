// The guards a request passes before any handler (DESIGN.md: ip block → rate limit → auth):
// the client IP as far as trusted proxies vouch for it, the block list, the per-IP sliding
// window rate limit and the API key check. Time comes in as an argument.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/cidr.h"

namespace http {

using SteadyTime = std::chrono::steady_clock::time_point;

// The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
// right-most address of X-Forwarded-For that is not itself a trusted proxy.
std::string clientIp(std::string_view peer, std::string_view forwardedFor,
                     const std::vector<config::Cidr>& trustedProxies);

class IpBlockList {
 public:
  explicit IpBlockList(const std::vector<std::string>& canonicalAddresses);
  bool blocked(std::string_view ip) const;

 private:
  std::unordered_set<std::string> blocked_;
};

// Requests per client IP over a sliding 60 s window, exactly (SPEC §2: a request made at t is
// forgotten at t+60): each IP keeps the times of its last `limit` requests, a ring that grows
// only as far as that IP's traffic does. A request passes when fewer than `limit` were made in
// the last 60 s; a refused one is told when the oldest of them is forgotten (1–60 s). Idle IPs
// are forgotten. Thread-safe (sharded locks).
class RateLimiter {
 public:
  static constexpr std::chrono::seconds kWindow{60};

  RateLimiter(int limit, SteadyTime epoch);

  struct Decision {
    bool allowed = true;
    int retryAfterSeconds = 0;  // when refused: seconds until a request would pass
  };
  Decision check(std::string_view ip, SteadyTime now);

  size_t trackedIps() const;

 private:
  struct Entry {
    std::vector<int64_t> times;  // ms since the epoch; once `limit` long, a ring from `oldest`
    size_t oldest = 0;
    int64_t newest = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
    uint32_t sinceSweep = 0;
  };
  static constexpr size_t kShards = 16;

  int limit_;
  SteadyTime epoch_;
  std::array<Shard, kShards> shards_;
};

// The rate limit shared by a fleet (fleet/rate_limit.h): the same window, counted in Redis for
// every instance. `done` runs once, on any thread: with the decision, or with nothing when the
// shared store did not answer (the instance's own RateLimiter decides then).
class SharedRateLimit {
 public:
  virtual ~SharedRateLimit() = default;
  // Whether asking is worth it now (the store is reachable).
  virtual bool available() const = 0;
  virtual void check(std::string_view ip,
                     std::function<void(std::optional<RateLimiter::Decision>)> done) = 0;
};

// API_SECRET keys; `Authorization: Bearer <key>` or the bare key. Every configured key is
// compared in constant time, so timing reveals neither which key nor how much of it matched.
// Each key has a name (usage accounting); `names` may be empty (then keys have none).
class ApiKeyAuth {
 public:
  explicit ApiKeyAuth(std::vector<std::string> keys, std::vector<std::string> names = {})
      : keys_(std::move(keys)), names_(std::move(names)) {}
  bool enabled() const { return !keys_.empty(); }
  bool allows(std::string_view authorizationHeader) const { return match(authorizationHeader).has_value(); }
  // The index of the key the header carries, or nothing.
  std::optional<size_t> match(std::string_view authorizationHeader) const;
  // The name of key `index` ("" when names were not given).
  std::string_view name(size_t index) const {
    return index < names_.size() ? std::string_view(names_[index]) : std::string_view();
  }

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> names_;
};

// The key of an Authorization header: "Bearer k" → "k"; a bare value is returned trimmed.
std::string_view bearerToken(std::string_view authorizationHeader);

}  // namespace http
