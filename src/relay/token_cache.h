// Token counts of messages already seen (issue 14: a chat client resends its whole history on
// every turn, and counting it again is most of a long conversation's cost). Keyed by a SHA-256
// of the encoding, the role and the message's text and tool calls, so a hit is the count of the
// same bytes; bounded: two generations of at most kGeneration entries each (a lookup that hits
// the older one moves the entry to the current one; when the current is full it becomes the
// older one), about 6 MB at most. Messages shorter than kMinBytes are counted directly: hashing
// them costs about what counting does. Thread-safe (sharded locks), shared by every worker.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "conversation/conversation.h"
#include "tokenizer/encoding.h"

namespace relay {

class TokenCountCache {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kGeneration = 4096;  // entries per shard and generation
  static constexpr size_t kMinBytes = 512;

  explicit TokenCountCache(size_t generation = kGeneration) : generation_(generation) {}

  // The tokens message `m` adds to a prompt (SPEC §3 Usage: 3 + role + text, plus its tool
  // calls' names and arguments), from the cache when the same message was counted before.
  size_t messageTokens(const conversation::Message& m, tokenizer::Encoding encoding);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t entries() const;

  static TokenCountCache& shared();

 private:
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    size_t operator()(const Digest& d) const;
  };
  using Map = std::unordered_map<Digest, uint32_t, DigestHash>;
  struct Shard {
    mutable std::mutex mutex;
    Map current;
    Map older;
  };
  size_t generation_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

// The uncached count of one message (what the cache stores).
size_t countMessage(const conversation::Message& m, tokenizer::Encoding encoding);

}  // namespace relay
