// The pre-tokenizer: splits text into the pieces BPE runs on, with tiktoken's split pattern of
// each encoding compiled by PCRE2 (UTF + UCP, JIT when the platform allows it).
#pragma once

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <memory>
#include <string_view>

#include "tokenizer/encoding.h"

namespace tokenizer::detail {

// tiktoken's pattern for `encoding`, in PCRE2 syntax.
std::string_view splitPattern(Encoding encoding);

class PieceSplitter {
 public:
  // Throws std::runtime_error when the pattern does not compile (a start-up failure).
  explicit PieceSplitter(Encoding encoding);

  // Walks the pieces of one text. `text` must be well-formed UTF-8 (see utf8.h) and outlive
  // the cursor.
  class Cursor {
   public:
    Cursor(const PieceSplitter& splitter, std::string_view text);
    // The next piece, in order; false at the end. Pieces cover the text without gaps.
    bool next(std::string_view& piece);

   private:
    const PieceSplitter& splitter_;
    std::string_view text_;
    size_t at_ = 0;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_;
  };

 private:
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code_;
  bool jit_ = false;
};

}  // namespace tokenizer::detail
