// The fleet's data in Redis (docs/fleet.md, "In Redis") and the Lua scripts that change it, each
// one atomic step run by Redis itself: one round trip, no interleaving with another instance.
// Times inside scripts come from Redis's own clock (TIME), so instances never compare clocks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/redis.h"

namespace fleet {

// Key names. Every key starts with "q2a:".
inline constexpr std::string_view kEventsChannel = "q2a:events";
inline constexpr std::string_view kAccountsSet = "q2a:accounts";    // set of ids
inline constexpr std::string_view kIdsHash = "q2a:ids";             // original token hash → id
inline constexpr std::string_view kNextId = "q2a:next_id";          // counter
inline constexpr std::string_view kTombstones = "q2a:tombstones";   // hashes an admin deleted
inline constexpr std::string_view kAccountPrefix = "q2a:account:";  // + id: hash of fields
inline constexpr std::string_view kUsageDays = "q2a:usage:days";    // set of days
inline constexpr std::string_view kUsagePrefix = "q2a:usage:";      // + day: hash
std::string accountKey(int64_t id);
std::string leaseKey(int64_t id);  // "<instance>:<fence>", expires unless renewed
std::string fenceKey(int64_t id);  // counter: the last lease's fence
std::string rateKey(std::string_view ip);

// A Lua script sent by its SHA-1 (EVALSHA); when Redis does not know it yet (NOSCRIPT, after a
// restart) the text is sent once (EVAL).
class Script {
 public:
  explicit Script(std::string_view text);
  void run(store::RedisClient& redis, std::vector<std::string> keys, std::vector<std::string> args,
           store::RedisCallback done) const;

 private:
  std::string text_;
  std::string sha_;
};

// (keys; args) of each script, in docs/fleet.md's words.
// register: (ids, tombstones, next_id, accounts; lift, [hash, preferred id]…) → per hash: its
//   id, -id when new (the preferred one when free), 0 when an admin deleted it (lift=1 lifts
//   that instead: an admin adds it back).
extern const Script kRegister;
// load: (accounts; account key prefix) → [[id, [field, value, …]], …]
extern const Script kLoad;
// update: (account; channel, message, field, value, …) → 1, or 0 when the account is gone.
extern const Script kUpdate;
// remove: (account, accounts, tombstones, ids; id, hash, channel, message) → 1
extern const Script kRemove;
// acquire: (account, lease, fence; instance, ttl ms, refused token, young fraction) →
//   ["adopt", token, issued ms, expiry ms, refresh token] | ["busy", ms left] |
//   ["granted", fence, refresh token] | ["gone"]
extern const Script kAcquire;
// commit: (account, fence, lease; fence, access token, lifetime ms, refresh token, lease value,
//   channel, message) → 1 written, 0 a newer lease was taken (or the account is gone)
extern const Script kCommit;
// release / renew: (lease; value[, ttl ms]) → 1 when the lease was still this one
extern const Script kRelease;
extern const Script kRenew;
// limit: (window key; limit, window ms, member) → 0 admitted, else ms until one is forgotten
extern const Script kRateLimit;

}  // namespace fleet
