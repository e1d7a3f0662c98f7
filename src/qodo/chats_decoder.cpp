#include "qodo/chats_decoder.h"

#include <spdlog/spdlog.h>

#include <string>

#include "qodo/failure.h"

namespace qodo {

namespace {
using Out = conversation::Event;
using OutKind = conversation::EventKind;
}  // namespace

ChatsDecoder::ChatsDecoder(size_t maxLineBytes, bool hideReasoning)
    : maxLineBytes_(maxLineBytes),
      hideReasoning_(hideReasoning),
      splitter_(maxLineBytes),
      reasoning_(hideReasoning) {}

bool ChatsDecoder::feed(std::string_view bytes, conversation::EventSink& sink) {
  if (failed_) return false;
  splitter_.feed(bytes);
  return drainLines(sink);
}

void ChatsDecoder::finish(conversation::EventSink& sink) {
  if (failed_) return;
  splitter_.finish();
  if (!drainLines(sink)) return;
  emit(reasoning_.flush(), sink);
  if (!sawText_) {
    fail(Failure::kNoText, describe(Failure::kNoText), sink);
    return;
  }
  sink.onEvent(Out::of(OutKind::kEnd));
}

void ChatsDecoder::reset() {
  splitter_ = LineSplitter(maxLineBytes_);
  reasoning_ = ReasoningSplitter(hideReasoning_);
  sawText_ = false;
  failed_ = false;
}

bool ChatsDecoder::drainLines(conversation::EventSink& sink) {
  for (;;) {
    auto next = splitter_.next();
    switch (next.status) {
      case LineSplitter::Status::kLine:
        if (!handleLine(next.line, sink)) return false;
        continue;
      case LineSplitter::Status::kNeedMore:
      case LineSplitter::Status::kDone:
        return true;
      case LineSplitter::Status::kLineTooLong:
        return fail(
            Failure::kOversize,
            "the backend sent a line longer than " + std::to_string(maxLineBytes_) + " bytes",
            sink);
    }
  }
}

bool ChatsDecoder::handleLine(std::string_view line, conversation::EventSink& sink) {
  const qodo::Event event = parser_.parse(line);
  switch (event.kind) {
    case qodo::EventKind::kText:
      if (event.text.empty()) return true;
      sawText_ = true;
      emit(reasoning_.feed(event.text), sink);
      return true;
    case qodo::EventKind::kError: {
      const Failure failure = classifyFailure(200, line);
      const Failure kind = failure == Failure::kNone ? Failure::kBackendError : failure;
      return fail(kind, describe(kind), sink);
    }
    case qodo::EventKind::kOther:
      spdlog::debug("upstream event ignored: type={}", event.text);
      return true;
    case qodo::EventKind::kNotJson:
      spdlog::debug("upstream line is not JSON, skipped ({} bytes)", line.size());
      return true;
  }
  return true;
}

void ChatsDecoder::emit(const ReasoningPieces& pieces, conversation::EventSink& sink) {
  if (!pieces.reasoning.empty()) sink.onEvent(Out::of(OutKind::kReasoning, pieces.reasoning));
  if (!pieces.content.empty()) sink.onEvent(Out::of(OutKind::kText, pieces.content));
}

bool ChatsDecoder::fail(Failure failure, std::string_view message, conversation::EventSink& sink) {
  failed_ = true;
  Out event = Out::of(OutKind::kFailure, message);
  event.failure = failure;
  sink.onEvent(event);
  return false;
}

}  // namespace qodo
