// Reads one backend event line (SPEC.md §4): a `text` event gives its data.content, an
// `{"error":…}` object is the backend failing inside a 200 body, anything else is ignored by
// the caller. Runs once per backend token, so it must be cheap: the common text event is read
// by a small scanner without building a DOM (scanTextEvent); any line it is not sure about
// goes through Boost.JSON (parseWithDom), whose answer is the reference.
#pragma once

#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <memory>
#include <optional>
#include <string>
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
  // Valid until the next parse() and while the parsed line is (it may point into the line).
  std::string_view text;
};

// The fast path: a `text` event whose line is a valid JSON object with a plain "type":"text"
// and a string data.content gives its content (unescaped into `scratch` when it has escapes,
// else a view into `line`). Anything else (other types, "error", duplicate keys, surrogate
// escapes, big numbers, deep nesting, invalid JSON) gives nullopt: ask parseWithDom. When it
// answers, it answers what parseWithDom would.
std::optional<Event> scanTextEvent(std::string_view line, std::string& scratch);

class EventParser {
 public:
  EventParser();
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // scanTextEvent, else parseWithDom.
  Event parse(std::string_view line);
  // The full parser (Boost.JSON); the reference the fast path is tested against.
  Event parseWithDom(std::string_view line);

 private:
  // Made on the first line the fast path declines: most streams never need it, and a held
  // stream should not carry its 4 KB buffer and parser stacks.
  struct Dom;
  std::unique_ptr<Dom> dom_;
  std::string unescaped_;  // the fast path's content when it had escapes
};

}  // namespace qodo
