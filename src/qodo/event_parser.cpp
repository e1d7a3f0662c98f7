#include "qodo/event_parser.h"

#include <exception>
#include <optional>

namespace qodo {

namespace json = boost::json;

namespace {

// A strict reader of the JSON subset the common text event uses. Every method returns false
// when the input is outside that subset or is not valid JSON; the caller then falls back to
// Boost.JSON, so "false" never decides an answer, it only gives up.
class Scanner {
 public:
  Scanner(std::string_view line, std::string& scratch)
      : p_(line.data()), end_(line.data() + line.size()), scratch_(scratch) {}

  std::optional<Event> event() {
    // A line must open with the brace itself (the DOM path's quick exit says so too).
    if (p_ == end_ || *p_ != '{') return std::nullopt;
    ++p_;
    bool sawType = false;
    bool sawData = false;
    std::string_view type;
    std::string_view content;
    skipSpace();
    if (p_ < end_ && *p_ == '}') return std::nullopt;  // {}: no type, the DOM path says so
    do {
      std::string_view key;
      if (!plainString(key) || !take(':')) return std::nullopt;
      skipSpace();
      if (key == "error") return std::nullopt;
      if (key == "type") {
        // Duplicate keys: which one Boost.JSON keeps is its business, not ours to copy.
        if (sawType || !plainString(type)) return std::nullopt;
        sawType = true;
      } else if (key == "data") {
        if (sawData || !dataObject(content)) return std::nullopt;
        sawData = true;
      } else if (!skipValue(0)) {
        return std::nullopt;
      }
    } while (take(','));
    if (!take('}')) return std::nullopt;
    skipSpace();
    if (p_ != end_ || !sawType || type != "text") return std::nullopt;
    return Event{EventKind::kText, content};
  }

 private:
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

  // "data": an object whose "content" (if any) must be a string; anything else it holds is
  // skipped. A data that is not an object goes to the DOM path.
  bool dataObject(std::string_view& content) {
    if (!take('{')) return false;
    skipSpace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    bool sawContent = false;
    do {
      std::string_view key;
      if (!plainString(key) || !take(':')) return false;
      skipSpace();
      if (key == "content") {
        if (sawContent || !string(&content)) return false;
        sawContent = true;
      } else if (!skipValue(1)) {
        return false;
      }
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

  const char* p_;
  const char* end_;
  std::string& scratch_;
};

}  // namespace

std::optional<Event> scanTextEvent(std::string_view line, std::string& scratch) {
  return Scanner(line, scratch).event();
}

struct EventParser::Dom {
  std::array<unsigned char, 4096> buffer;  // most events fit: no heap allocation for them
  // Made anew for every line: Boost 1.81's monotonic_resource::release() keeps doubling the
  // size of its next heap block, so a reused one would soon ask for gigabytes.
  std::optional<json::monotonic_resource> resource;
  json::parser parser;
  std::optional<json::value> value;  // its strings live in resource
};

EventParser::EventParser() = default;
EventParser::~EventParser() = default;

Event EventParser::parse(std::string_view line) {
  if (auto event = scanTextEvent(line, unescaped_)) return *event;
  return parseWithDom(line);
}

Event EventParser::parseWithDom(std::string_view line) {
  // Quick exit for lines that cannot be an object, before touching the parser.
  if (line.empty() || line.front() != '{') return {EventKind::kNotJson, {}};
  if (!dom_) dom_ = std::make_unique<Dom>();
  auto& [buffer, resource, parser, value] = *dom_;
  try {
    // Nothing may point into the old resource when it is replaced.
    value.reset();
    parser.reset();
    resource.emplace(buffer.data(), buffer.size());
    parser.reset(json::storage_ptr(&*resource));
    boost::system::error_code ec;
    parser.write(line.data(), line.size(), ec);
    if (ec) {
      // Drop the half-built value while the memory it points into is still there.
      parser.reset();
      return {EventKind::kNotJson, {}};
    }
    value.emplace(parser.release());
  } catch (const std::exception&) {
    parser.reset();
    return {EventKind::kNotJson, {}};
  }
  const json::object* event = value->if_object();
  if (!event) return {EventKind::kNotJson, {}};

  if (const json::value* error = event->if_contains("error")) {
    if (const json::string* s = error->if_string()) return {EventKind::kError, *s};
    if (const json::object* o = error->if_object()) {
      if (const json::value* m = o->if_contains("message"); m && m->is_string())
        return {EventKind::kError, m->get_string()};
    }
    return {EventKind::kError, {}};
  }

  const json::value* type = event->if_contains("type");
  const json::string* typeName = type ? type->if_string() : nullptr;
  if (!typeName) return {EventKind::kOther, {}};
  if (*typeName != "text") return {EventKind::kOther, *typeName};
  const json::value* data = event->if_contains("data");
  const json::object* dataObject = data ? data->if_object() : nullptr;
  const json::value* content = dataObject ? dataObject->if_contains("content") : nullptr;
  if (content && content->is_string()) return {EventKind::kText, content->get_string()};
  return {EventKind::kText, {}};
}

}  // namespace qodo
