#include "api/json_text.h"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace api {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// 1 for bytes that must be escaped or start a multi-byte sequence; lets the common case (plain
// ASCII) be copied in runs instead of byte by byte.
constexpr bool needsCare(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

// Whether any of the 8 bytes of `w` needs care, all at once (SWAR: each test is exact about
// whether some byte matches, which is all a skip needs).
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;
constexpr bool anyZeroByte(uint64_t v) { return ((v - kOnes) & ~v & kHighs) != 0; }
constexpr bool anyNeedsCare(uint64_t w) {
  const bool control = ((w - kOnes * 0x20) & ~w & kHighs) != 0;  // a byte below 0x20
  return control || (w & kHighs) != 0 || anyZeroByte(w ^ (kOnes * '"')) ||
         anyZeroByte(w ^ (kOnes * '\\'));
}

// The first position at or after `i` whose byte needs care, or `n`.
size_t plainRunEnd(const unsigned char* p, size_t i, size_t n) {
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (anyNeedsCare(w)) break;
    i += 8;
  }
  while (i < n && !needsCare(p[i])) ++i;
  return i;
}

// Length of the well-formed UTF-8 sequence starting at p (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t validSequenceLength(const unsigned char* p, size_t left) {
  const unsigned char c = p[0];
  auto cont = [&](size_t i) { return i < left && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  out.reserve(out.size() + n + 2);
  while (i < n) {
    const size_t run = plainRunEnd(p, i, n);
    out.append(text.data() + i, run - i);
    i = run;
    if (i == n) break;
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = validSequenceLength(p + i, n - i);
      if (len == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(text.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    ++i;
  }
}

void appendJsonString(std::string& out, std::string_view text) {
  out += '"';
  appendJsonEscaped(out, text);
  out += '"';
}

void appendJsonInt(std::string& out, long long value) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

}  // namespace api
