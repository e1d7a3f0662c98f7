#include "http/guards.h"

#include <algorithm>
#include <functional>

#include "obs/secrets.h"

namespace http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool trusted(std::string_view ip, const std::vector<config::Cidr>& ranges) {
  for (const auto& range : ranges)
    if (range.contains(ip)) return true;
  return false;
}

}  // namespace

std::string clientIp(std::string_view peer, std::string_view forwardedFor,
                     const std::vector<config::Cidr>& trustedProxies) {
  std::string current = config::canonicalAddress(peer).value_or(std::string(peer));
  if (!trusted(current, trustedProxies)) return current;
  // Walk X-Forwarded-For from the right: each hop was added by the proxy before it.
  std::string_view rest = forwardedFor;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    auto address = config::canonicalAddress(hop);
    if (!address) break;  // garbage: stop believing the header here
    current = *address;
    if (!trusted(current, trustedProxies)) break;
  }
  return current;
}

IpBlockList::IpBlockList(const std::vector<std::string>& canonicalAddresses)
    : blocked_(canonicalAddresses.begin(), canonicalAddresses.end()) {}

bool IpBlockList::blocked(std::string_view ip) const {
  return !blocked_.empty() && blocked_.count(std::string(ip)) > 0;
}

RateLimiter::RateLimiter(int limit, SteadyTime epoch) : limit_(limit), epoch_(epoch) {}

RateLimiter::Decision RateLimiter::check(std::string_view ip, SteadyTime now) {
  if (limit_ <= 0) return {};
  using namespace std::chrono;
  const int64_t nowMs = duration_cast<milliseconds>(now - epoch_).count();
  const int64_t windowMs = duration_cast<milliseconds>(kWindow).count();

  Shard& shard = shards_[std::hash<std::string_view>{}(ip) % kShards];
  std::lock_guard lock(shard.mutex);
  if (++shard.sinceSweep >= 4096) {
    shard.sinceSweep = 0;
    std::erase_if(shard.entries,
                  [&](const auto& kv) { return kv.second.newest + windowMs <= nowMs; });
  }
  Entry& e = shard.entries[std::string(ip)];
  const auto limit = static_cast<size_t>(limit_);
  if (e.times.size() < limit) {
    e.times.push_back(nowMs);
    e.newest = nowMs;
    return {};
  }
  // `limit` requests are remembered; the oldest decides.
  const int64_t forgottenAt = e.times[e.oldest] + windowMs;
  if (forgottenAt <= nowMs) {
    e.times[e.oldest] = nowMs;
    e.oldest = (e.oldest + 1) % limit;
    e.newest = nowMs;
    return {};
  }
  const int64_t waitMs = forgottenAt - nowMs;
  const int seconds = static_cast<int>((waitMs + 999) / 1000);
  return {false, std::clamp(seconds, 1, static_cast<int>(kWindow.count()))};
}

size_t RateLimiter::trackedIps() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

std::string_view bearerToken(std::string_view header) {
  header = trim(header);
  if (header.size() >= 7 && (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer "))
    header.remove_prefix(7);
  return trim(header);
}

std::optional<size_t> ApiKeyAuth::match(std::string_view authorizationHeader) const {
  const std::string_view given = bearerToken(authorizationHeader);
  std::optional<size_t> found;
  for (size_t i = 0; i < keys_.size(); ++i)
    if (obs::constantTimeEquals(given, keys_[i]) && !given.empty() && !found) found = i;
  return found;
}

}  // namespace http
