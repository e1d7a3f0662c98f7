#include "fleet/scripts.h"

#include <openssl/sha.h>

#include <memory>

namespace fleet {

std::string accountKey(int64_t id) { return std::string(kAccountPrefix) + std::to_string(id); }
std::string leaseKey(int64_t id) { return "q2a:lease:" + std::to_string(id); }
std::string fenceKey(int64_t id) { return "q2a:fence:" + std::to_string(id); }
std::string rateKey(std::string_view ip) { return "q2a:rl:" + std::string(ip); }

Script::Script(std::string_view text) : text_(text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text_.data()), text_.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : digest) {
    sha_ += kHex[b >> 4];
    sha_ += kHex[b & 15];
  }
}

void Script::run(store::RedisClient& redis, std::vector<std::string> keys,
                 std::vector<std::string> args, store::RedisCallback done) const {
  // Kept (not copied) until the answer: a NOSCRIPT answer sends it again with the text.
  auto command = std::make_shared<std::vector<std::string>>();
  command->reserve(3 + keys.size() + args.size());
  command->push_back("EVALSHA");
  command->push_back(sha_);
  command->push_back(std::to_string(keys.size()));
  for (auto& k : keys) command->push_back(std::move(k));
  for (auto& a : args) command->push_back(std::move(a));
  redis.command(*command, [this, &redis, command, done = std::move(done)](
                              std::optional<store::RedisReply> reply) mutable {
    if (reply && reply->isError() && reply->str.rfind("NOSCRIPT", 0) == 0) {
      (*command)[0] = "EVAL";
      (*command)[1] = text_;
      redis.command(*command, std::move(done));
      return;
    }
    done(std::move(reply));
  });
}

namespace {

// Milliseconds of Redis's clock.
constexpr std::string_view kNow = R"(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
)";

std::string withNow(std::string_view body) { return std::string(kNow) + std::string(body); }

}  // namespace

const Script kRegister(R"(
local out = {}
for i = 2, #ARGV, 2 do
  local hash = ARGV[i]
  local preferred = tonumber(ARGV[i + 1])
  local id = redis.call('HGET', KEYS[1], hash)
  if id then
    out[#out + 1] = tonumber(id)
  elseif ARGV[1] ~= '1' and redis.call('SISMEMBER', KEYS[2], hash) == 1 then
    out[#out + 1] = 0
  else
    redis.call('SREM', KEYS[2], hash)
    if preferred > 0 and redis.call('SISMEMBER', KEYS[4], preferred) == 0 and
       redis.call('EXISTS', 'q2a:account:' .. preferred) == 0 then
      -- Known here by that id already (a Redis that lost its data): keep it.
      id = preferred
      if tonumber(redis.call('GET', KEYS[3]) or '0') < preferred then
        redis.call('SET', KEYS[3], preferred)
      end
    else
      id = redis.call('INCR', KEYS[3])
    end
    redis.call('HSET', KEYS[1], hash, id)
    redis.call('SADD', KEYS[4], id)
    redis.call('HSET', 'q2a:account:' .. id, 'hash', hash)
    out[#out + 1] = -id
  end
end
return out
)");

const Script kLoad(R"(
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then out[#out + 1] = {id, fields} end
end
return out
)");

const Script kUpdate(R"(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
)");

const Script kRemove(R"(
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('HDEL', KEYS[4], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
)");

const Script kAcquire(withNow(R"(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local a = redis.call('HMGET', KEYS[1], 'access_token', 'access_issued', 'access_expiry',
                      'refresh_token')
local token, issued, expiry = a[1], tonumber(a[2]), tonumber(a[3])
local refresh = a[4] or ''
if token and token ~= '' and issued and expiry and expiry > now then
  local adopt
  if ARGV[3] ~= '' then
    adopt = token ~= ARGV[3]
  else
    adopt = now < issued + (expiry - issued) * tonumber(ARGV[4])
  end
  if adopt then return {'adopt', token, tostring(issued), tostring(expiry), refresh} end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'busy', tostring(redis.call('PTTL', KEYS[2]))}
end
local fence = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
return {'granted', tostring(fence), refresh}
)"));

const Script kCommit(withNow(R"(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'access_token', ARGV[2], 'access_issued', tostring(now),
           'access_expiry', tostring(now + tonumber(ARGV[3])))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'refresh_token', ARGV[4]) end
if redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
)"));

const Script kRelease(R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)");

const Script kRenew(R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)");

// The sliding window of SPEC §2, exactly: a request made at t is forgotten at t + window.
const Script kRateLimit(withNow(R"(
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
)"));

}  // namespace fleet
