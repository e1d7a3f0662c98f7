#include "tokenizer/fast_splitter.h"

#include <cstdint>

#include "tokenizer/char_classes.h"

namespace tokenizer::detail {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// One well-formed UTF-8 text, read a code point at a time.
struct Text {
  const unsigned char* p;
  size_t n;

  // The code point at byte `i` (< n) and its length.
  uint32_t at(size_t i, size_t& len) const {
    const unsigned char c = p[i];
    if (c < 0x80) {
      len = 1;
      return c;
    }
    if (c < 0xE0) {
      len = 2;
      return ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
    }
    if (c < 0xF0) {
      len = 3;
      return ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
    }
    len = 4;
    return ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
           (p[i + 3] & 0x3Fu);
  }
  uint8_t cls(size_t i, size_t& len) const {
    if (p[i] < 0x80) {  // most text: no decoding, one table
      len = 1;
      return latin()[p[i]];
    }
    return charClass(at(i, len));
  }
  static const uint8_t* latin() { return kClassBlocks[kClassBlockOf[0]]; }
  // The start of the code point before byte `i` (> 0).
  size_t before(size_t i) const {
    do --i;
    while (i > 0 && (p[i] & 0xC0) == 0x80);
    return i;
  }
  bool crlf(size_t i) const { return p[i] == '\r' || p[i] == '\n'; }

  // The end of the run of characters of class `mask` (any of its bits) from `i`.
  size_t run(size_t i, uint8_t mask) const {
    size_t len = 0;
    while (i < n && (cls(i, len) & mask)) i += len;
    return i;
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d) at `i`: its end, or kNone. Case-insensitive as PCRE2 with UTF
  // reads it: 's' also matches U+017F (long s).
  size_t contraction(size_t i) const {
    if (i + 1 >= n || p[i] != '\'') return kNone;
    const auto lower = [](unsigned char c) { return static_cast<unsigned char>(c | 0x20); };
    const unsigned char a = lower(p[i + 1]);
    if (p[i + 1] == 0xC5 && i + 2 < n && p[i + 2] == 0xBF) return i + 3;  // 'ſ
    if (p[i + 1] >= 0x80) return kNone;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n && p[i + 2] < 0x80) {
      const unsigned char b = lower(p[i + 2]);
      if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
      if (a == 'l' && b == 'l') return i + 3;
    }
    return kNone;
  }

  // [^\r\n\p{L}\p{N}]: may start a word as its one leading character.
  bool prefix(size_t i, uint8_t cls) const { return !(cls & (kLetter | kNumber)) && !crlf(i); }

  // [A]*[B]+ from `s` (o200k: A its upper-case side, B its lower-case side): A* takes all it can
  // and gives back one character at a time until B+ can start (A and B share Lm, Lo and M).
  size_t upperThenLower(size_t s) const {
    const size_t a = run(s, kUpperSide);
    size_t k = a;
    size_t len = 0;
    for (;;) {
      if (k < n && (cls(k, len) & kLowerSide)) return run(k, kLowerSide);
      if (k == s) return kNone;
      k = before(k);
    }
  }
  // [A]+[B]* from `s`.
  size_t upperRun(size_t s) const {
    const size_t a = run(s, kUpperSide);
    return a == s ? kNone : run(a, kLowerSide);
  }

  // \p{N}{1,3} at `i` (a number character).
  size_t digits(size_t i) const {
    size_t len = 0;
    for (int k = 0; k < 3 && i < n && (cls(i, len) & kNumber); ++k) i += len;
    return i;
  }

  // ' ?[^\s\p{L}\p{N}]+' and then any of `tail` (o200k also takes '/'), or kNone.
  size_t punctuation(size_t i, uint32_t cp0, bool slash) const {
    constexpr uint8_t kWordOrSpace = kSpace | kLetter | kNumber;
    size_t len = 0;
    size_t s = i;
    if (cp0 == ' ' && i + 1 < n && !(cls(i + 1, len) & kWordOrSpace)) s = i + 1;
    if (s == i && (charClass(cp0) & kWordOrSpace)) return kNone;
    size_t e = s;
    while (e < n && !(cls(e, len) & kWordOrSpace)) e += len;
    while (e < n && (crlf(e) || (slash && p[e] == '/'))) ++e;
    return e;
  }

  // \s*[\r\n]+ | \s+(?!\S) | \s+ at `i` (a white-space character).
  size_t whitespace(size_t i) const {
    size_t j = i;
    size_t lastBreak = kNone;
    size_t lastStart = i;
    size_t len = 0;
    while (j < n && (cls(j, len) & kSpace)) {
      if (crlf(j)) lastBreak = j;
      lastStart = j;
      j += len;
    }
    if (lastBreak != kNone) return lastBreak + 1;  // \s*[\r\n]+: up to the last line break
    if (j == n || lastStart == i) return j;        // \s+(?!\S) at the end, or \s+ alone
    return lastStart;  // \s+(?!\S): the run but its last character, which goes with the word
  }
};

size_t cl100kPiece(const Text& t, size_t i) {
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (const size_t e = t.contraction(i); e != kNone) return e;
  size_t len0 = 0;
  const uint32_t cp0 = t.at(i, len0);
  const uint8_t c0 = charClass(cp0);
  size_t len = 0;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (t.prefix(i, c0) && i + len0 < t.n && (t.cls(i + len0, len) & kLetter))
    return t.run(i + len0, kLetter);
  if (c0 & kLetter) return t.run(i, kLetter);
  // \p{N}{1,3}
  if (c0 & kNumber) return t.digits(i);
  // ?[^\s\p{L}\p{N}]+[\r\n]*
  if (const size_t e = t.punctuation(i, cp0, false); e != kNone) return e;
  return t.whitespace(i);
}

size_t o200kPiece(const Text& t, size_t i) {
  size_t len0 = 0;
  const uint32_t cp0 = t.at(i, len0);
  const uint8_t c0 = charClass(cp0);
  const bool prefix = t.prefix(i, c0) && i + len0 < t.n;
  const auto withContraction = [&](size_t e) {
    const size_t c = t.contraction(e);
    return c == kNone ? e : c;
  };
  // [^\r\n\p{L}\p{N}]?[A]*[B]+(?i:'s|…)?
  if (prefix)
    if (const size_t e = t.upperThenLower(i + len0); e != kNone) return withContraction(e);
  if (const size_t e = t.upperThenLower(i); e != kNone) return withContraction(e);
  // [^\r\n\p{L}\p{N}]?[A]+[B]*(?i:'s|…)?
  if (prefix)
    if (const size_t e = t.upperRun(i + len0); e != kNone) return withContraction(e);
  if (const size_t e = t.upperRun(i); e != kNone) return withContraction(e);
  // \p{N}{1,3}
  if (c0 & kNumber) return t.digits(i);
  // ?[^\s\p{L}\p{N}]+[\r\n/]*
  if (const size_t e = t.punctuation(i, cp0, true); e != kNone) return e;
  return t.whitespace(i);
}

}  // namespace

bool FastSplitter::Cursor::next(std::string_view& piece) {
  if (at_ >= text_.size()) return false;
  const Text t{reinterpret_cast<const unsigned char*>(text_.data()), text_.size()};
  size_t end = encoding_ == Encoding::kCl100kBase ? cl100kPiece(t, at_) : o200kPiece(t, at_);
  if (end <= at_ || end > text_.size()) {
    // Every character is matched by some alternative; should a class say otherwise, the
    // character becomes a piece of its own and the walk moves on.
    size_t len = 0;
    t.at(at_, len);
    end = at_ + len;
  }
  piece = text_.substr(at_, end - at_);
  at_ = end;
  return true;
}

}  // namespace tokenizer::detail
