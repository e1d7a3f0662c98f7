// How a client surface shows one answer (DESIGN.md: events → the surface's bytes): the relay
// hands it the backend's events as they come and the whole answer at the end; it appends what
// its client reads. One implementation per surface (OpenAI chat, Anthropic messages).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "api/error.h"
#include "conversation/event.h"

namespace api {

struct Usage {
  long promptTokens = 0;
  long completionTokens = 0;
};

// The whole answer, when it is complete.
struct Answer {
  std::string_view content;
  std::string_view reasoning;
  Usage usage;
};

class AnswerEncoder {
 public:
  virtual ~AnswerEncoder() = default;

  // Whether the client asked for the answer as it comes (a stream) or whole at the end.
  virtual bool streaming() const = 0;
  // Streaming: what the client reads for this text, reasoning or tool-call event (the first
  // call also opens the answer). Whole: nothing until finish().
  virtual void onEvent(const conversation::Event& event, std::string& out) = 0;
  // The answer is complete: the stream's closing events, or the whole answer's body.
  virtual void finish(const Answer& answer, std::string& out) = 0;
  // The answer failed after the stream began: how the client is told, and the stream's end.
  virtual void fail(const ApiError& error, std::string& out) = 0;

  // A stream whose client expects a sign of life while the backend is silent (Anthropic's
  // `ping` event): whether it wants one, and the bytes of one.
  virtual bool wantsPings() const { return false; }
  virtual void ping(std::string& /*out*/) {}
  // The prompt's token count, known before the first event (Anthropic's message_start).
  virtual void setPromptTokens(long /*tokens*/) {}
  // The id the client sees for the answer's tool call `index` (its results come back under it).
  virtual std::string toolCallId(size_t index) const = 0;
};

}  // namespace api
