#include "tokenizer/rank_table.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tokenizer::detail {
namespace {

inline uint64_t mix(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

// Tokens are short (most under 8 bytes), so a word-at-a-time multiply hash beats a general one.
inline uint64_t hashBytes(const unsigned char* p, size_t n) {
  constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ull;
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  uint64_t h = kSeed ^ (n * 0x94d049bb133111ebull);
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = mix(h ^ word, kMul);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = mix(h ^ word, kMul);
  }
  return mix(h, kSeed);
}

}  // namespace

RankTable::RankTable(RankData data) : bytes_(data.bytes), pairRanks_(65536, kNoRank) {
  offsets_.reserve(data.tokenCount);
  for (size_t at = 0; at < data.size;) {
    const size_t length = data.bytes[at];
    offsets_.push_back(static_cast<uint32_t>(at + 1));
    at += 1 + length;
    if (at > data.size) throw std::runtime_error("tokenizer: embedded rank data is truncated");
  }
  if (offsets_.size() != data.tokenCount) {
    throw std::runtime_error("tokenizer: embedded rank data has " +
                             std::to_string(offsets_.size()) + " tokens, expected " +
                             std::to_string(data.tokenCount));
  }
  const size_t capacity = std::bit_ceil(offsets_.size() * 2 + 1);
  slots_.assign(capacity, Slot{0, kNoRank});
  mask_ = capacity - 1;
  byteRanks_.fill(kNoRank);
  for (uint32_t r = 0; r < offsets_.size(); ++r) {
    const std::string_view bytes = token(r);
    const uint64_t h = hashBytes(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    uint64_t i = h & mask_;
    while (slots_[i].rank != kNoRank) i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<uint32_t>(h >> 32), r};
    if (bytes.size() == 1) byteRanks_[static_cast<unsigned char>(bytes[0])] = r;
    if (bytes.size() == 2) {
      pairRanks_[(static_cast<size_t>(static_cast<unsigned char>(bytes[0])) << 8) |
                 static_cast<unsigned char>(bytes[1])] = r;
    }
  }
  for (const uint32_t r : byteRanks_) {
    if (r == kNoRank) throw std::runtime_error("tokenizer: a byte has no token of its own");
  }
}

uint32_t RankTable::rank(std::string_view bytes) const {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t h = hashBytes(p, bytes.size());
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot slot = slots_[i];
    if (slot.rank == kNoRank) return kNoRank;
    if (slot.tag != tag) continue;
    const uint32_t offset = offsets_[slot.rank];
    if (bytes_[offset - 1] == bytes.size() && std::memcmp(bytes_ + offset, p, bytes.size()) == 0) {
      return slot.rank;
    }
  }
}

std::string_view RankTable::token(uint32_t rank) const {
  const uint32_t offset = offsets_[rank];
  return {reinterpret_cast<const char*>(bytes_ + offset), bytes_[offset - 1]};
}

}  // namespace tokenizer::detail
