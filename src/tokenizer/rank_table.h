// Immutable lookup from a token's bytes to its BPE rank (which is also its token id), built once
// from the embedded rank data. The hot path of the tokenizer: one hash and usually one compare.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/rank_data.h"

namespace tokenizer::detail {

class RankTable {
 public:
  static constexpr uint32_t kNoRank = UINT32_MAX;

  explicit RankTable(RankData data);

  // kNoRank when `bytes` is not a token.
  uint32_t rank(std::string_view bytes) const;
  // Every single byte is a token in the tiktoken encodings.
  uint32_t byteRank(unsigned char byte) const { return byteRanks_[byte]; }
  uint32_t pairRank(unsigned char first, unsigned char second) const {
    return pairRanks_[(static_cast<size_t>(first) << 8) | second];
  }
  std::string_view token(uint32_t rank) const;
  uint32_t size() const { return static_cast<uint32_t>(offsets_.size()); }

 private:
  // Most tokens are at most 8 bytes: their slot holds all of them, so a lookup usually touches
  // one cache line and compares one word.
  struct Slot {
    uint64_t head;  // the first 8 bytes, zero-padded
    uint32_t rank;
    uint32_t length;
  };

  const unsigned char* bytes_;
  std::vector<uint32_t> offsets_;  // by rank: where the token's bytes start in bytes_
  std::vector<Slot> slots_;        // open addressing, linear probing
  uint64_t mask_ = 0;
  size_t longest_ = 0;  // no longer byte string can be a token: skip hashing it
  std::array<uint32_t, 256> byteRanks_{};
  std::vector<uint32_t> pairRanks_;  // 65536 entries: the two-byte tokens, looked up the most
};

}  // namespace tokenizer::detail
