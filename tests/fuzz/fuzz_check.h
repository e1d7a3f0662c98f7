// Helpers shared by the fuzz targets: a check that aborts (so libFuzzer and the replay driver
// both report it, whatever NDEBUG says), an independent UTF-8 validator, a strict JSON check
// and a reader that cuts the fuzzer's bytes into the pieces a target needs.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace fuzz {

// Well-formed UTF-8 as Unicode defines it: shortest forms only, no surrogates, <= U+10FFFF.
inline bool validUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// The parsed value when `text` is one valid JSON text (and valid UTF-8), else nullopt.
inline std::optional<boost::json::value> parseJson(std::string_view text) {
  if (!validUtf8(text)) return std::nullopt;
  boost::json::parse_options options;
  options.max_depth = 1000;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return v;
}

// Hands out the fuzzer's bytes as small integers and length-prefixed strings; an exhausted
// reader gives zeros and empty strings.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // A string of up to `max` bytes, its length taken from the next byte.
  std::string_view string(size_t max = 255) {
    const size_t len = std::min<size_t>({byte(), max, rest_.size()});
    const std::string_view s = rest_.substr(0, len);
    rest_.remove_prefix(len);
    return s;
  }
  std::string_view rest() {
    const std::string_view s = rest_;
    rest_ = {};
    return s;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace fuzz
