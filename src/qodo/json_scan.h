// A strict reader of a JSON subset, for the fast paths of the backends' decoders (the chats
// text event, the command UserResponse frame): keys and small values read in place, strings
// unescaped into a scratch buffer only when they have escapes. Every method returns false when
// the input is outside that subset or is not valid JSON; the caller then falls back to
// Boost.JSON, so "false" never decides an answer, it only gives up.
#pragma once

#include <string>
#include <string_view>

namespace qodo {

class JsonScan {
 public:
  JsonScan(std::string_view text, std::string& scratch)
      : p_(text.data()), end_(text.data() + text.size()), scratch_(scratch) {}

  bool atEnd() const { return p_ == end_; }
  char peek() const { return *p_; }  // not at the end
  void advance() { ++p_; }

  // Nesting the skipped values may have; deeper goes to the DOM path (Boost.JSON allows 32).
  static constexpr int kMaxSkipDepth = 8;
  // Longer numbers may be read differently (double rounding, exponent limits): DOM path.
  static constexpr int kMaxNumberChars = 18;

  void skipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool take(char c) {
    skipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // An object at p_ (after spaces): `member(key)` reads each member's value from p_ and returns
  // false to give up. `{}` is an object with no members.
  template <typename Member>
  bool object(Member&& member) {
    if (!take('{')) return false;
    skipSpace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    do {
      std::string_view key;
      if (!plainString(key) || !take(':')) return false;
      skipSpace();
      if (!member(key)) return false;
    } while (take(','));
    return take('}');
  }

  // A string without escapes (keys, the type): a view into the line.
  bool plainString(std::string_view& out) {
    skipSpace();
    const char* start = p_ + 1;
    if (!string(nullptr)) return false;
    out = std::string_view(start, static_cast<size_t>(p_ - 1 - start));
    return out.find('\\') == std::string_view::npos;
  }

  // A JSON string at p_. With `out`, its value: a view into the line when it has no escapes,
  // else unescaped into scratch_ (only `content` asks for that, so scratch_ is never shared).
  bool string(std::string_view* out) {
    if (p_ == end_ || *p_ != '"') return false;
    const char* start = ++p_;
    bool escaped = false;
    for (;;) {
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return false;  // raw control characters are not JSON
      if (c == '\\') {
        if (out != nullptr && !escaped) scratch_.assign(start, p_);
        escaped = true;
        if (!escape(out != nullptr)) return false;
        continue;
      }
      const char* from = p_;
      if (c < 0x80)
        ++p_;
      else if (!utf8())
        return false;
      if (out != nullptr && escaped) scratch_.append(from, p_);
    }
    if (out != nullptr)
      *out = escaped ? std::string_view(scratch_) : std::string_view(start, p_ - start);
    ++p_;
    return true;
  }

 private:
  // One escape at p_ (the backslash). Surrogates (\uD800–\uDFFF) go to the DOM path: pairs
  // are rare in practice and lone ones are where JSON readers differ.
  bool escape(bool keep) {
    if (end_ - p_ < 2) return false;
    const char e = p_[1];
    p_ += 2;
    char plain = 0;
    switch (e) {
      case '"':
        plain = '"';
        break;
      case '\\':
        plain = '\\';
        break;
      case '/':
        plain = '/';
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        if (end_ - p_ < 4) return false;
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
          const char h = p_[i];
          unsigned digit;
          if (h >= '0' && h <= '9')
            digit = static_cast<unsigned>(h - '0');
          else if (h >= 'a' && h <= 'f')
            digit = static_cast<unsigned>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F')
            digit = static_cast<unsigned>(h - 'A' + 10);
          else
            return false;
          code = code * 16 + digit;
        }
        p_ += 4;
        if (code >= 0xD800 && code <= 0xDFFF) return false;
        if (keep) appendUtf8(code);
        return true;
      }
      default:
        return false;
    }
    if (keep) scratch_.push_back(plain);
    return true;
  }

  void appendUtf8(unsigned code) {
    if (code < 0x80) {
      scratch_.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      scratch_.push_back(static_cast<char>(0xC0 | (code >> 6)));
      scratch_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      scratch_.push_back(static_cast<char>(0xE0 | (code >> 12)));
      scratch_.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      scratch_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // One well-formed UTF-8 sequence at p_ (Unicode Table 3-7: no overlong forms, no
  // surrogates, nothing above U+10FFFF), as Boost.JSON requires of strings.
  bool utf8() {
    const auto b0 = static_cast<unsigned char>(p_[0]);
    int length;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF)
      length = 2;
    else if (b0 == 0xE0)
      length = 3, lo = 0xA0;
    else if (b0 == 0xED)
      length = 3, hi = 0x9F;
    else if (b0 >= 0xE1 && b0 <= 0xEF)
      length = 3;
    else if (b0 == 0xF0)
      length = 4, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3)
      length = 4;
    else if (b0 == 0xF4)
      length = 4, hi = 0x8F;
    else
      return false;
    if (end_ - p_ < length) return false;
    const auto b1 = static_cast<unsigned char>(p_[1]);
    if (b1 < lo || b1 > hi) return false;
    for (int i = 2; i < length; ++i) {
      const auto b = static_cast<unsigned char>(p_[i]);
      if (b < 0x80 || b > 0xBF) return false;
    }
    p_ += length;
    return true;
  }

 public:
  // Any JSON value at p_ (after spaces), nested at most kMaxSkipDepth deep.
  bool skipValue(int depth) {
    skipSpace();
    if (p_ == end_) return false;
    switch (*p_) {
      case '"':
        return string(nullptr);
      case '{':
      case '[':
        return skipContainer(depth);
      case 't':
        return word("true");
      case 'f':
        return word("false");
      case 'n':
        return word("null");
      default:
        return number();
    }
  }

 private:
  bool skipContainer(int depth) {
    if (depth >= kMaxSkipDepth) return false;
    const bool isObject = *p_ == '{';
    const char close = isObject ? '}' : ']';
    ++p_;
    skipSpace();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    do {
      if (isObject) {
        skipSpace();
        if (!string(nullptr) || !take(':')) return false;
      }
      if (!skipValue(depth + 1)) return false;
    } while (take(','));
    return take(close);
  }

  bool word(std::string_view w) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w)
      return false;
    p_ += w.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)? of at most kMaxNumberChars characters; exponents go to the
  // DOM path.
  bool number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0')
      ++p_;
    else
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) return false;
    return p_ - start <= kMaxNumberChars;
  }

 protected:
  const char* p_;
  const char* end_;
  std::string& scratch_;
};

}  // namespace qodo
