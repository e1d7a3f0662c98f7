// The pre-tokenizer without a regex engine: tiktoken's split pattern of each encoding written out
// by hand as the alternatives the regex tries, in its order, with its greedy choices and its
// backtracking, over the character classes PCRE2 itself gave (char_classes.h). It gives the
// pieces the PCRE2 splitter (piece_splitter.h, kept as the reference) gives — tests compare the
// two on generated texts of every class — at a fraction of the cost.
#pragma once

#include <cstddef>
#include <string_view>

#include "tokenizer/encoding.h"

namespace tokenizer::detail {

class FastSplitter {
 public:
  // Walks the pieces of one text. `text` must be well-formed UTF-8 (see utf8.h) and outlive
  // the cursor.
  class Cursor {
   public:
    Cursor(Encoding encoding, std::string_view text) : encoding_(encoding), text_(text) {}
    // The next piece, in order; false at the end. Pieces cover the text without gaps.
    bool next(std::string_view& piece);

   private:
    Encoding encoding_;
    std::string_view text_;
    size_t at_ = 0;
  };
};

}  // namespace tokenizer::detail
