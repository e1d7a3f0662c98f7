// Making arbitrary bytes well-formed UTF-8 before they reach the pre-tokenizer, the way a
// JavaScript TextDecoder does: each maximal ill-formed subpart becomes one U+FFFD (WHATWG
// Encoding, "UTF-8 decode"), so counts match what tiktoken gives for the decoded string.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenizer::detail {

// Length of the longest prefix of `text` that is well-formed UTF-8.
size_t wellFormedPrefix(std::string_view text);

// `text` with every ill-formed sequence replaced by U+FFFD.
std::string toWellFormed(std::string_view text);

}  // namespace tokenizer::detail
