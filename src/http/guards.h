// The guards a request passes before any handler (DESIGN.md: ip block → rate limit → auth):
// the client IP as far as trusted proxies vouch for it, the block list, the per-IP sliding
// window rate limit and the API key check. Time comes in as an argument.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
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

// Requests per client IP over a sliding 60 s window, estimated from the current and previous
// fixed windows (weighted by overlap): 16 bytes per IP whatever the limit, exact while the
// previous window is empty. Idle IPs are forgotten. Thread-safe (sharded locks).
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
    int64_t window = 0;  // index of the current fixed window
    uint32_t current = 0;
    uint32_t previous = 0;
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

// API_SECRET keys; `Authorization: Bearer <key>` or the bare key. Every configured key is
// compared in constant time, so timing reveals neither which key nor how much of it matched.
class ApiKeyAuth {
 public:
  explicit ApiKeyAuth(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool enabled() const { return !keys_.empty(); }
  bool allows(std::string_view authorizationHeader) const;

 private:
  std::vector<std::string> keys_;
};

// The key of an Authorization header: "Bearer k" → "k"; a bare value is returned trimmed.
std::string_view bearerToken(std::string_view authorizationHeader);

}  // namespace http
