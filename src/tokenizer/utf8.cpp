#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace tokenizer::detail {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed sequence starting at `at`, or 0 when it is ill-formed; `*valid` is
// then how many of its bytes form the maximal subpart a decoder replaces by one U+FFFD.
size_t sequenceLength(const unsigned char* p, size_t size, size_t at, size_t* valid) {
  const unsigned char lead = p[at];
  size_t length;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    *valid = 1;
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if (at + i >= size || p[at + i] < low || p[at + i] > high) {
      *valid = i;
      return 0;
    }
    low = 0x80;
    high = 0xBF;
  }
  return length;
}

}  // namespace

size_t wellFormedPrefix(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t at = 0;
  while (at < size) {
    // Eight ASCII bytes at a time: most text is mostly ASCII.
    while (at + 8 <= size) {
      uint64_t word;
      std::memcpy(&word, p + at, 8);
      if (word & 0x8080808080808080ull) break;
      at += 8;
    }
    if (at >= size) break;
    const unsigned char lead = p[at];
    if (lead < 0x80) {
      ++at;
      continue;
    }
    // The common 2- and 3-byte sequences (every CJK character), without sequenceLength's
    // range checks: those lead bytes allow any continuation bytes.
    if (lead >= 0xC2 && lead <= 0xDF && at + 1 < size && (p[at + 1] & 0xC0) == 0x80) {
      at += 2;
      continue;
    }
    if (lead >= 0xE1 && lead <= 0xEF && lead != 0xED && at + 2 < size &&
        (p[at + 1] & 0xC0) == 0x80 && (p[at + 2] & 0xC0) == 0x80) {
      at += 3;
      continue;
    }
    size_t valid;
    const size_t length = sequenceLength(p, size, at, &valid);
    if (length == 0) return at;
    at += length;
  }
  return size;
}

std::string toWellFormed(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(text.size() + 8);
  size_t at = 0;
  while (at < text.size()) {
    const size_t good = wellFormedPrefix(text.substr(at));
    out.append(text.substr(at, good));
    at += good;
    if (at == text.size()) break;
    size_t valid;
    sequenceLength(p, text.size(), at, &valid);
    out.append(kReplacement);
    at += valid;
  }
  return out;
}

std::string encodeUtf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

}  // namespace tokenizer::detail
