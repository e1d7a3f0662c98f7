// Separates a model's `<think>…</think>` reasoning from its answer (SPEC.md §7) while the text
// streams in arbitrary pieces. Text is held back only while it could still be part of a tag.
#pragma once

#include <string>
#include <string_view>

namespace qodo {

struct ReasoningPieces {
  std::string reasoning;  // for reasoning_content; always empty when hiding
  std::string content;
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(bool hideReasoning = false) : hide_(hideReasoning) {}

  // Reasoning is recognised only when `<think>` opens the answer (leading whitespace allowed);
  // the whitespace after `</think>` is dropped so the answer does not start with blank lines.
  ReasoningPieces feed(std::string_view text);
  // The answer ended: returns whatever was held back (an unclosed reasoning stays reasoning).
  ReasoningPieces flush();

 private:
  enum class State { kStart, kReasoning, kAfterReasoning, kContent };

  void feedStart(std::string_view text, ReasoningPieces& out);
  void feedReasoning(std::string_view text, ReasoningPieces& out);
  void feedAfterReasoning(std::string_view text, ReasoningPieces& out);
  void emitReasoning(std::string_view text, ReasoningPieces& out) const;

  bool hide_;
  State state_ = State::kStart;
  std::string held_;  // text that may still turn out to be (part of) a tag
};

}  // namespace qodo
