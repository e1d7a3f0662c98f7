#include "tokenizer/piece_splitter.h"

#include <stdexcept>
#include <string>

namespace tokenizer::detail {
namespace {

// The pat_str of tiktoken 1.0.22 (encoders/<name>.json), verbatim: PCRE2 with UTF and UCP reads
// them as tiktoken's regex engine does (the corpus test pins it, U+0085 and U+2028 included).
constexpr std::string_view kCl100kBasePattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kO200kBasePattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Length in bytes of the UTF-8 character starting with `lead`.
size_t characterLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

std::string_view splitPattern(Encoding encoding) {
  return encoding == Encoding::kCl100kBase ? kCl100kBasePattern : kO200kBasePattern;
}

PieceSplitter::PieceSplitter(Encoding encoding) : code_(nullptr, &pcre2_code_free) {
  const std::string_view pattern = splitPattern(encoding);
  int error = 0;
  PCRE2_SIZE errorOffset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &error, &errorOffset, nullptr));
  if (!code_) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::runtime_error("tokenizer: split pattern does not compile at offset " +
                             std::to_string(errorOffset) + ": " +
                             reinterpret_cast<const char*>(message));
  }
  // Without JIT (e.g. where W^X forbids it) the interpreter gives the same pieces, slower.
  jit_ = pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE) == 0;
}

PieceSplitter::Cursor::Cursor(const PieceSplitter& splitter, std::string_view text)
    : splitter_(splitter),
      text_(text),
      match_(pcre2_match_data_create_from_pattern(splitter.code_.get(), nullptr),
             &pcre2_match_data_free) {}

bool PieceSplitter::Cursor::next(std::string_view& piece) {
  if (at_ >= text_.size()) return false;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
  int found = PCRE2_ERROR_NOMEMORY;
  if (match_) {
    found = splitter_.jit_ ? pcre2_jit_match(splitter_.code_.get(), subject, text_.size(), at_, 0,
                                             match_.get(), nullptr)
                           : pcre2_match(splitter_.code_.get(), subject, text_.size(), at_,
                                         PCRE2_NO_UTF_CHECK, match_.get(), nullptr);
  }
  size_t start = at_;
  size_t end = at_;
  if (found > 0) {
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_.get());
    start = ovector[0];
    end = ovector[1];
  }
  if (found <= 0 || start != at_ || end <= start) {
    // The patterns match every character, so this is only reached when PCRE2 itself fails
    // (out of memory, a match limit): the character becomes a piece of its own rather than
    // being lost, and the walk always moves forward.
    end = std::min(text_.size(), at_ + characterLength(static_cast<unsigned char>(text_[at_])));
  }
  piece = text_.substr(at_, end - at_);
  at_ = end;
  return true;
}

}  // namespace tokenizer::detail
