// The Anthropic Messages answer (SPEC.md §11): the `message` body, or the stream of events
// (message_start, ping, per block content_block_start / _delta / _stop, message_delta,
// message_stop). Blocks come in the order the answer makes them: thinking (when the request
// enabled it), text, tool_use. Stop sequences cut the text at the first one, streamed or not;
// while streaming, only what may still be the start of a stop sequence is held back.
#pragma once

#include <concepts>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "api/answer_encoder.h"
#include "api/chat_response.h"
#include "tokenizer/encoding.h"

namespace api {

struct AnthropicOptions {
  std::string id;     // msg_…
  std::string model;  // as the client named it
  bool stream = false;
  bool thinking = false;  // reasoning shown as thinking blocks; without it, left out
  std::vector<std::string> stopSequences;
  tokenizer::Encoding encoding = tokenizer::Encoding::kCl100kBase;  // output_tokens
};

class AnthropicAnswer final : public AnswerEncoder {
 public:
  explicit AnthropicAnswer(AnthropicOptions options);

  bool streaming() const override { return options_.stream; }
  void onEvent(const conversation::Event& event, std::string& out) override;
  void finish(const Answer& answer, std::string& out) override;
  void fail(const ApiError& error, std::string& out) override;
  bool wantsPings() const override { return options_.stream; }
  void ping(std::string& out) override;
  void setPromptTokens(long tokens) override { inputTokens_ = tokens; }
  std::string toolCallId(size_t index) const override;

  // Whether a stop sequence ended the answer (nothing more is shown).
  bool stopped() const { return !stopSequence_.empty(); }

 private:
  enum class Block { kNone, kThinking, kText, kTool };
  void open(std::string& out);
  void startBlock(Block block, std::string& out, std::string_view name = {});
  void closeBlock(std::string& out);
  void emitText(std::string_view text, std::string& out);
  // A content_block_delta of the open block: {"type":type, field: piece}.
  void appendDelta(std::string& out, std::string_view type, std::string_view field,
                   std::string_view piece) const;
  // Text through the stop sequences: what may be shown now (a stop sequence found ends it).
  std::string_view cutText(std::string_view text);
  long outputTokens() const;
  // `"stop_reason":…,"stop_sequence":…` and the usage (`delta`: inside message_delta, which
  // closes its "delta" object before the usage).
  void appendEnding(std::string& out, bool toolUse, long inputTokens, bool delta = false) const;

  AnthropicOptions options_;
  long inputTokens_ = 0;
  bool opened_ = false;
  Block block_ = Block::kNone;
  size_t blockIndex_ = 0;  // the next content block's index
  std::string stopSequence_;  // the stop sequence that ended the answer
  std::string held_;          // text that may be the start of a stop sequence
  std::string cut_;           // cutText's result
  // What the client was shown, for output_tokens.
  std::string shownThinking_;
  std::string shownText_;
  struct Call {
    std::string name;
    std::string input;
  };
  std::vector<Call> calls_;
  bool skippingCall_ = false;  // a call that began after a stop sequence
};

inline constexpr size_t kMessageIdRandomChars = 24;

// "msg_" followed by 24 random letters and digits drawn from `random`.
template <std::uniform_random_bit_generator Random>
std::string newMessageId(Random& random) {
  return randomId("msg_", kMessageIdRandomChars, random);
}

}  // namespace api
