#include "qodo/event_parser.h"

#include "qodo/json_scan.h"

#include <exception>
#include <optional>

namespace qodo {

namespace json = boost::json;

namespace {

// The text event's fast path: a JsonScan that knows where the content sits.
class Scanner : public JsonScan {
 public:
  using JsonScan::JsonScan;
  std::optional<Event> event() {
    // A line must open with the brace itself (the DOM path's quick exit says so too).
    if (p_ == end_ || *p_ != '{') return std::nullopt;
    bool sawType = false;
    bool sawData = false;
    std::string_view type;
    std::string_view content;
    const bool read = object([&](std::string_view key) {
      if (key == "error") return false;
      if (key == "type") {
        // Duplicate keys: which one Boost.JSON keeps is its business, not ours to copy.
        if (sawType || !plainString(type)) return false;
        sawType = true;
        return true;
      }
      if (key == "data") {
        if (sawData || !dataObject(content)) return false;
        sawData = true;
        return true;
      }
      return skipValue(0);
    });
    if (!read) return std::nullopt;
    skipSpace();
    // {} has no type: the DOM path says what it is.
    if (p_ != end_ || !sawType || type != "text") return std::nullopt;
    return Event{EventKind::kText, content};
  }

 private:
  // "data": an object whose "content" (if any) must be a string; anything else it holds is
  // skipped. A data that is not an object goes to the DOM path.
  bool dataObject(std::string_view& content) {
    bool sawContent = false;
    return object([&](std::string_view key) {
      if (key != "content") return skipValue(1);
      if (sawContent || !string(&content)) return false;
      sawContent = true;
      return true;
    });
  }
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
