// The BPE rank tables embedded in the binary at build time (room.cmake generates their source
// from the npm package tiktoken with scripts/tokenizer/convert-ranks.mjs).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tokenizer::detail {

// For rank 0, 1, ..., tokenCount - 1 in order: one length byte, then the token's bytes.
struct RankData {
  const unsigned char* bytes;
  size_t size;
  uint32_t tokenCount;
};

RankData cl100kBaseRanks();
RankData o200kBaseRanks();

}  // namespace tokenizer::detail
