// Where the byte-pair merging of one pre-token may be cut into independent parts (issue 14).
//
// Every part that merging ever forms is a token of the vocabulary, and a token is a run of the
// piece's bytes. So if no token of the vocabulary could lie across the boundary between two
// characters, no part ever does: the merges left of it and right of it never meet, neither
// side's candidate ranks depend on the other, and merging each side alone gives the same tokens
// as merging the whole. A long run of Han characters (one pre-token up to the next punctuation)
// then becomes mostly single characters, merged in a few lookups instead of a run-long queue.
//
// Only boundaries between two multi-byte characters are considered (ASCII boundaries are
// spanned by most English tokens anyway). The vocabulary is read once: for each token and each
// such boundary inside it, either the pair of whole characters it covers, or — when the token
// starts or ends inside one of them — the two bytes at the boundary, which conservatively marks
// every pair of characters meeting with those bytes. A boundary neither table names is a cut.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/rank_table.h"

namespace tokenizer::detail {

class CutPoints {
 public:
  explicit CutPoints(const RankTable& ranks);

  // Calls `onPart(part)` for the parts of `piece` (well-formed UTF-8, not empty) between its
  // cuts, in order; they cover the piece without gaps.
  template <typename OnPart>
  void forEachPart(std::string_view piece, OnPart&& onPart) const {
    const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
    const size_t n = piece.size();
    size_t partStart = 0;
    size_t previous = 0;  // start of the character before `at`
    size_t at = charLength(p[0]);
    while (at < n) {
      const size_t length = charLength(p[at]);
      if (at - previous > 1 && length > 1 &&
          !spanned(p + previous, at - previous, p + at, length)) {
        onPart(piece.substr(partStart, at - partStart));
        partStart = at;
      }
      previous = at;
      at += length;
    }
    onPart(piece.substr(partStart));
  }

  // Whether some token may lie across the boundary of the two multi-byte characters.
  bool spanned(const unsigned char* left, size_t leftLength, const unsigned char* right,
               size_t rightLength) const {
    const size_t bit = (static_cast<size_t>(left[leftLength - 1]) << 8) | right[0];
    if (byteMarks_[bit / 64] & (uint64_t{1} << (bit % 64))) return true;
    const uint64_t k = key(left, leftLength, right, rightLength);
    for (size_t i = slotOf(k);; i = (i + 1) & mask_) {
      if (pairs_[i] == k) return true;
      if (pairs_[i] == 0) return false;
    }
  }

  // How many pairs of whole characters some token covers (for tests).
  size_t pairCount() const { return pairCount_; }

 private:
  static size_t charLength(unsigned char lead) {
    return lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  }
  // A character's bytes (2 to 4) as one little-endian word.
  static uint32_t packed(const unsigned char* bytes, size_t length) {
    uint32_t word = bytes[0] | (static_cast<uint32_t>(bytes[1]) << 8);
    if (length > 2) word |= static_cast<uint32_t>(bytes[2]) << 16;
    if (length > 3) word |= static_cast<uint32_t>(bytes[3]) << 24;
    return word;
  }
  static uint64_t key(const unsigned char* left, size_t leftLength, const unsigned char* right,
                      size_t rightLength) {
    return (static_cast<uint64_t>(packed(left, leftLength)) << 32) | packed(right, rightLength);
  }
  size_t slotOf(uint64_t key) const { return (key * 0x9e3779b97f4a7c15ull) >> shift_; }
  void insert(uint64_t key);

  std::vector<uint64_t> pairs_;  // open addressing on key(); 0 is an empty slot
  uint64_t mask_ = 0;
  int shift_ = 64;
  size_t pairCount_ = 0;
  std::vector<uint64_t> byteMarks_;  // 65,536 bits: (last byte << 8 | first byte) of a partial
};

}  // namespace tokenizer::detail
