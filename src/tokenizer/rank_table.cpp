#include "tokenizer/rank_table.h"

#include <algorithm>
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

// The first (up to) 8 bytes as one word, zero-padded. Two overlapping loads instead of a
// variable-length copy, which would go through memory and stall the load that follows.
inline uint64_t headOf(const unsigned char* p, size_t n) {
  if (n >= 8) {
    uint64_t head;
    std::memcpy(&head, p, 8);
    return head;
  }
  if (n >= 4) {
    uint32_t low, high;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + n - 4, 4);
    return low | (static_cast<uint64_t>(high) << (8 * (n - 4)));
  }
  if (n >= 2) {
    uint16_t low, high;
    std::memcpy(&low, p, 2);
    std::memcpy(&high, p + n - 2, 2);
    return low | (static_cast<uint64_t>(high) << (8 * (n - 2)));
  }
  return n == 1 ? p[0] : 0;
}

// Tokens are short (most under 8 bytes), so a word-at-a-time multiply hash beats a general one.
inline uint64_t hashBytes(uint64_t head, const unsigned char* p, size_t n) {
  constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ull;
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  uint64_t h = mix(head ^ kSeed, kMul ^ n);
  size_t at = 8;
  for (; at + 8 <= n; at += 8) {
    uint64_t word;
    std::memcpy(&word, p + at, 8);
    h = mix(h ^ word, kMul);
  }
  if (at < n) {
    uint64_t word;  // the last 8 bytes, overlapping the previous word
    std::memcpy(&word, p + n - 8, 8);
    h = mix(h ^ word, kMul);
  }
  return h;
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
  slots_.assign(capacity, Slot{0, kNoRank, 0});
  mask_ = capacity - 1;
  byteRanks_.fill(kNoRank);
  for (uint32_t r = 0; r < offsets_.size(); ++r) {
    const std::string_view bytes = token(r);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const uint64_t head = headOf(p, bytes.size());
    uint64_t i = hashBytes(head, p, bytes.size()) & mask_;
    while (slots_[i].rank != kNoRank) i = (i + 1) & mask_;
    slots_[i] = Slot{head, r, static_cast<uint32_t>(bytes.size())};
    longest_ = std::max(longest_, bytes.size());
    if (bytes.size() == 1) byteRanks_[p[0]] = r;
    if (bytes.size() == 2) pairRanks_[(static_cast<size_t>(p[0]) << 8) | p[1]] = r;
  }
  for (const uint32_t r : byteRanks_) {
    if (r == kNoRank) throw std::runtime_error("tokenizer: a byte has no token of its own");
  }
}

uint32_t RankTable::rank(std::string_view bytes) const {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n > longest_) return kNoRank;
  const uint64_t head = headOf(p, n);
  for (uint64_t i = hashBytes(head, p, n) & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.rank == kNoRank) return kNoRank;
    if (slot.head != head || slot.length != n) continue;
    if (n <= 8 || std::memcmp(bytes_ + offsets_[slot.rank] + 8, p + 8, n - 8) == 0) {
      return slot.rank;
    }
  }
}

std::string_view RankTable::token(uint32_t rank) const {
  const uint32_t offset = offsets_[rank];
  return {reinterpret_cast<const char*>(bytes_ + offset), bytes_[offset - 1]};
}

}  // namespace tokenizer::detail
