// What the split patterns' character classes say of each code point, as PCRE2 (UTF + UCP) reads
// them: a table generated at build time (src/tokenizer/generator/char_classes.cpp).
#pragma once

#include <cstdint>

namespace tokenizer::detail {

enum CharClass : uint8_t {
  kLetter = 1,      // \p{L}
  kNumber = 2,      // \p{N}
  kSpace = 4,       // \s
  kUpperSide = 8,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k)
  kLowerSide = 16,  // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k)
};

extern const uint16_t kClassBlockOf[0x1100];
extern const uint8_t kClassBlocks[][256];

inline uint8_t charClass(uint32_t cp) { return kClassBlocks[kClassBlockOf[cp >> 8]][cp & 0xFF]; }

}  // namespace tokenizer::detail
