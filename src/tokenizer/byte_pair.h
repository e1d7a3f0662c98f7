// Byte-pair merging of one pre-token, exactly as tiktoken's byte_pair_merge does it: merge the
// adjacent pair whose bytes form the lowest-ranked token, the leftmost one on ties, until no
// adjacent pair forms a token. Owns reusable scratch space; use one per thread or per call.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/rank_table.h"

namespace tokenizer::detail {

class BytePairMerger {
 public:
  explicit BytePairMerger(const RankTable& ranks) : ranks_(ranks) {}

  // Start offsets of the tokens of `piece`, followed by piece.size(); so a piece of k tokens
  // yields k + 1 entries. Valid until the next call. `piece` must not be empty.
  std::span<const uint32_t> split(std::string_view piece);

  // The two strategies split() chooses between by length; they always agree. The scan is the
  // quickest for the short pieces of real text; the queue keeps a long run of one letter or
  // symbol from taking quadratic time.
  std::span<const uint32_t> splitByScan(std::string_view piece);
  std::span<const uint32_t> splitByQueue(std::string_view piece);

 private:
  struct Part {
    uint32_t start;
    uint32_t rank;  // rank of the token this part would form with the next one
  };
  uint32_t rankOf(std::string_view piece, uint32_t from, uint32_t to) const;

  const RankTable& ranks_;
  std::vector<Part> parts_;
  std::vector<uint32_t> bounds_;
  std::vector<uint32_t> next_;
  std::vector<uint32_t> prev_;
  std::vector<uint32_t> pairRank_;
  std::vector<uint64_t> queue_;
};

}  // namespace tokenizer::detail
