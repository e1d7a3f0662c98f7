// What a backend's answer is made of, once decoded from its wire (DESIGN.md: the events between
// a backend and a surface): text and reasoning pieces, tool calls (begin, argument pieces, end),
// the end, or a failure. A surface encodes these for its client; the relay routes them.
#pragma once

#include <cstddef>
#include <string_view>

namespace conversation {

// Why a backend answer failed; what it means for the account and the request is the relay's
// business (SPEC §4's table).
enum class Failure {
  kNone,             // a normal answer
  kRateLimited,      // 429 / "Too many concurrent requests": the account rests
  kUsageExhausted,   // "Usage limit exceeded": the account leaves the rotation
  kInvalidToken,     // 401 / "Invalid token" / a refused key: refresh once where possible
  kForbidden,        // 403: a failure of the account
  kServerError,      // 5xx
  kChineseDetected,  // the backend refused a Chinese conversation: a 400 to the client
  kBackendError,     // any other non-2xx, or an unexpected error in the answer
  kOversize,         // a line or frame beyond the gateway's limit: the answer is unusable
  kNoText,           // the answer ended without any text
  kUnreadable,       // a frame that is not the backend's protocol (not JSON): garbage
};

enum class EventKind {
  kText,               // `text`: a piece of the answer
  kReasoning,          // `text`: a piece of the model's reasoning
  kToolCallBegin,      // `index`, `id`, `text` = the tool's name
  kToolCallArguments,  // `index`, `text` = a piece of the arguments' JSON
  kToolCallEnd,        // `index`
  kEnd,                // the answer is complete
  kFailure,            // `failure`, `text` = what went wrong, in plain words
};

// The views are valid only during the call that delivers the event.
struct Event {
  EventKind kind = EventKind::kText;
  std::string_view text;
  size_t index = 0;
  std::string_view id;
  Failure failure = Failure::kNone;

  static Event of(EventKind kind, std::string_view text = {}) {
    Event e;
    e.kind = kind;
    e.text = text;
    return e;
  }
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void onEvent(const Event& event) = 0;
};

}  // namespace conversation
