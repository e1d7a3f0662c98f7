// Reads one backend event line (SPEC.md §4): a `text` event gives its data.content, an
// `{"error":…}` object is the backend failing inside a 200 body, anything else is ignored by
// the caller. Runs once per backend token, so the parser and its memory are reused.
#pragma once

#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <optional>
#include <string_view>

namespace qodo {

enum class EventKind {
  kText,     // `text`: data.content (may be empty)
  kError,    // {"error":…}: `text` holds the message when the error is a string or has one
  kOther,    // any other event; `text` holds its type ("" when it has none)
  kNotJson,  // not a JSON object
};

struct Event {
  EventKind kind;
  std::string_view text;  // valid until the next parse()
};

class EventParser {
 public:
  EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  Event parse(std::string_view line);

 private:
  std::array<unsigned char, 4096> buffer_;  // most events fit: no heap allocation for them
  // Made anew for every line: Boost 1.81's monotonic_resource::release() keeps doubling the
  // size of its next heap block, so a reused one would soon ask for gigabytes.
  std::optional<boost::json::monotonic_resource> resource_;
  boost::json::parser parser_;
  std::optional<boost::json::value> value_;  // its strings live in resource_
};

}  // namespace qodo
