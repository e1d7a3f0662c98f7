// The chats backend's answer (SPEC.md §4), decoded into the events every surface understands:
// the 200 body's lines → events → `<think>` reasoning split off (§7) → text and reasoning
// events; an `{"error":…}` line or a line beyond the limit → a failure event; the end of the
// body → the end event, or a failure when no text came at all. Pure: bytes in, events out.
#pragma once

#include <cstddef>
#include <string_view>

#include "conversation/event.h"
#include "qodo/answer_decoder.h"
#include "qodo/event_parser.h"
#include "qodo/line_splitter.h"
#include "qodo/reasoning_splitter.h"

namespace qodo {

class ChatsDecoder final : public AnswerDecoder {
 public:
  ChatsDecoder(size_t maxLineBytes, bool hideReasoning);

  // `bytes`: the next bytes of the 200 body.
  bool feed(std::string_view bytes, conversation::EventSink& sink) override;
  void finish(conversation::EventSink& sink) override;
  void reset() override;

 private:
  bool drainLines(conversation::EventSink& sink);
  bool handleLine(std::string_view line, conversation::EventSink& sink);
  void emit(const ReasoningPieces& pieces, conversation::EventSink& sink);
  bool fail(conversation::Failure failure, std::string_view message, conversation::EventSink& sink);

  size_t maxLineBytes_;
  bool hideReasoning_;
  LineSplitter splitter_;
  EventParser parser_;
  ReasoningSplitter reasoning_;
  bool sawText_ = false;
  bool failed_ = false;
};

}  // namespace qodo
