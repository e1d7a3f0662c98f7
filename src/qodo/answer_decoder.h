// What every Qodo backend's answer decoder promises (DESIGN.md: a backend decodes its wire into
// events): the chats backend feeds body bytes, the command backend one WebSocket frame at a
// time; either way the relay sees the same conversation events and one end or one failure.
#pragma once

#include <string_view>

#include "conversation/event.h"

namespace qodo {

class AnswerDecoder {
 public:
  virtual ~AnswerDecoder() = default;

  // The next piece of the answer as the wire delivered it. Returns false once the answer has
  // failed (its failure event was delivered); feed nothing more then.
  virtual bool feed(std::string_view wire, conversation::EventSink& sink) = 0;
  // The wire ended normally: what was held back, then kEnd, or a failure (kNoText when the
  // answer held no text).
  virtual void finish(conversation::EventSink& sink) = 0;
  // Ready for another answer (the next attempt, on another account).
  virtual void reset() = 0;
};

}  // namespace qodo
