// Token counting and encoding compatible with OpenAI's tiktoken (cl100k_base, o200k_base), used
// for the usage numbers of every answer. The rank tables are embedded in the binary; all calls
// are thread-safe and never fail: text that is not valid UTF-8 is counted as a JavaScript string
// decoded from those bytes would be (each ill-formed sequence becomes U+FFFD).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/encoding.h"

namespace tokenizer {

// Number of tokens of ordinary text (special tokens like <|endoftext|> are plain text).
size_t countTokens(Encoding encoding, std::string_view text);

// The token ids tiktoken's encode_ordinary gives for `text`.
std::vector<uint32_t> encode(Encoding encoding, std::string_view text);

// Loads both tables now (called at start-up, so the first request does not pay for it);
// thread-safe, idempotent.
void warmUp();

}  // namespace tokenizer
