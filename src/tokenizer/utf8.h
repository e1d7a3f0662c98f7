// Making arbitrary bytes well-formed UTF-8 before they reach the pre-tokenizer, the way a
// JavaScript TextDecoder does: each maximal ill-formed subpart becomes one U+FFFD (WHATWG
// Encoding, "UTF-8 decode"), so counts match what tiktoken gives for the decoded string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenizer::detail {

// Length of the longest prefix of `text` that is well-formed UTF-8.
size_t wellFormedPrefix(std::string_view text);

// `text` with every ill-formed sequence replaced by U+FFFD.
std::string toWellFormed(std::string_view text);

// The UTF-8 bytes of code point `cp` (≤ U+10FFFF, not a surrogate).
std::string encodeUtf8(uint32_t cp);

}  // namespace tokenizer::detail
