#include "tokenizer/cut_points.h"

#include <bit>

namespace tokenizer::detail {
namespace {

bool isContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

CutPoints::CutPoints(const RankTable& ranks) : byteMarks_(65536 / 64, 0) {
  std::vector<uint64_t> keys;
  for (uint32_t rank = 0; rank < ranks.size(); ++rank) {
    const std::string_view token = ranks.token(rank);
    const auto* t = reinterpret_cast<const unsigned char*>(token.data());
    const size_t n = token.size();
    for (size_t j = 1; j < n; ++j) {
      // A boundary inside the token between a multi-byte character and the lead byte of another:
      // wherever the token lies in well-formed text, position j is such a boundary there.
      if (t[j] < 0xC0 || t[j - 1] < 0x80) continue;
      size_t start = j - 1;
      while (start > 0 && isContinuation(t[start])) --start;
      const bool leftWhole = !isContinuation(t[start]) && start + charLength(t[start]) == j;
      const bool rightWhole = j + charLength(t[j]) <= n;
      if (leftWhole && rightWhole) {
        keys.push_back(key(t + start, j - start, t + j, charLength(t[j])));
      } else {
        const size_t bit = (static_cast<size_t>(t[j - 1]) << 8) | t[j];
        byteMarks_[bit / 64] |= uint64_t{1} << (bit % 64);
      }
    }
  }
  const size_t capacity = std::bit_ceil(keys.size() * 2 + 16);
  pairs_.assign(capacity, 0);
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
  for (const uint64_t k : keys) insert(k);
}

void CutPoints::insert(uint64_t k) {
  for (size_t i = slotOf(k);; i = (i + 1) & mask_) {
    if (pairs_[i] == k) return;
    if (pairs_[i] == 0) {
      pairs_[i] = k;
      ++pairCount_;
      return;
    }
  }
}

}  // namespace tokenizer::detail
