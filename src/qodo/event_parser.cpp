#include "qodo/event_parser.h"

#include <exception>

namespace qodo {

namespace json = boost::json;

EventParser::EventParser() = default;

Event EventParser::parse(std::string_view line) {
  // Quick exit for lines that cannot be an object, before touching the parser.
  if (line.empty() || line.front() != '{') return {EventKind::kNotJson, {}};
  try {
    // Nothing may point into the old resource when it is replaced.
    value_.reset();
    parser_.reset();
    resource_.emplace(buffer_.data(), buffer_.size());
    parser_.reset(json::storage_ptr(&*resource_));
    boost::system::error_code ec;
    parser_.write(line.data(), line.size(), ec);
    if (ec) {
      // Drop the half-built value while the memory it points into is still there.
      parser_.reset();
      return {EventKind::kNotJson, {}};
    }
    value_.emplace(parser_.release());
  } catch (const std::exception&) {
    parser_.reset();
    return {EventKind::kNotJson, {}};
  }
  const json::object* event = value_->if_object();
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
