#include "qodo/reasoning_splitter.h"

#include <algorithm>

namespace qodo {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Length of the longest end of `text` that is a proper beginning of `tag`.
size_t partialTagAtEnd(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

void ReasoningSplitter::emitReasoning(std::string_view text, ReasoningPieces& out) const {
  if (!hide_) out.reasoning.append(text);
}

void ReasoningSplitter::feedStart(std::string_view text, ReasoningPieces& out) {
  held_.append(text);
  std::string_view rest = held_;
  while (!rest.empty() && isSpace(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) return;
  if (rest.size() < kOpen.size()) {
    if (kOpen.substr(0, rest.size()) == rest) return;
  } else if (rest.substr(0, kOpen.size()) == kOpen) {
    const std::string after(rest.substr(kOpen.size()));
    held_.clear();
    state_ = State::kReasoning;
    feedReasoning(after, out);
    return;
  }
  state_ = State::kContent;
  out.content.append(held_);
  held_.clear();
}

void ReasoningSplitter::feedReasoning(std::string_view text, ReasoningPieces& out) {
  std::string joined;
  if (!held_.empty()) {
    joined = std::move(held_);
    held_.clear();
    joined.append(text);
    text = joined;
  }
  const size_t close = text.find(kClose);
  if (close != std::string_view::npos) {
    emitReasoning(text.substr(0, close), out);
    state_ = State::kAfterReasoning;
    feedAfterReasoning(text.substr(close + kClose.size()), out);
    return;
  }
  const size_t partial = partialTagAtEnd(text, kClose);
  emitReasoning(text.substr(0, text.size() - partial), out);
  held_.assign(text.substr(text.size() - partial));
}

void ReasoningSplitter::feedAfterReasoning(std::string_view text, ReasoningPieces& out) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  if (text.empty()) return;
  state_ = State::kContent;
  out.content.append(text);
}

ReasoningPieces ReasoningSplitter::feed(std::string_view text) {
  ReasoningPieces out;
  switch (state_) {
    case State::kStart:
      feedStart(text, out);
      break;
    case State::kReasoning:
      feedReasoning(text, out);
      break;
    case State::kAfterReasoning:
      feedAfterReasoning(text, out);
      break;
    case State::kContent:
      out.content.append(text);
      break;
  }
  return out;
}

ReasoningPieces ReasoningSplitter::flush() {
  ReasoningPieces out;
  if (state_ == State::kStart) out.content = std::move(held_);
  if (state_ == State::kReasoning) emitReasoning(held_, out);
  held_.clear();
  return out;
}

}  // namespace qodo
