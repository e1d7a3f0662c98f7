// The OpenAI answer text (SPEC.md §3): streamed `chat.completion.chunk` SSE events and the
// non-streaming `chat.completion` body. Built by appending to a string, without a JSON DOM, as
// it runs once per backend token; the output is valid JSON and UTF-8 whatever the text holds.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "api/answer_encoder.h"
#include "api/error.h"

namespace api {

// Appends complete SSE events (`data: …\n\n`) for one streamed answer. The id, created time and
// model are fixed at construction and repeated in every chunk.
class ChunkEncoder {
 public:
  ChunkEncoder(std::string_view id, long created, std::string_view model);

  // The first chunk: delta {"role":"assistant","content":""}.
  void appendRole(std::string& out) const;
  void appendContent(std::string& out, std::string_view text) const;
  void appendReasoning(std::string& out, std::string_view text) const;  // reasoning_content
  // A tool call's first delta: index, id, type and name, empty arguments (SPEC §10).
  void appendToolCallStart(std::string& out, size_t index, std::string_view id,
                           std::string_view name) const;
  // A piece of that call's arguments.
  void appendToolCallArguments(std::string& out, size_t index, std::string_view piece) const;
  // The last chunk before [DONE]: empty delta, finish_reason "stop" (or "tool_calls").
  void appendStop(std::string& out, std::string_view finishReason = "stop") const;
  // After the stop chunk when stream_options.include_usage: "choices":[] and "usage".
  void appendUsage(std::string& out, const Usage& usage) const;

  // `data: {"error":{…}}`: how a failure is told once the stream has started.
  static void appendError(std::string& out, const ApiError& error);
  static void appendDone(std::string& out);  // data: [DONE]

 private:
  void appendDelta(std::string& out, std::string_view deltaField, std::string_view text) const;

  std::string head_;        // `data: {"id":…,"object":…,"created":…,"model":…`
  std::string choiceHead_;  // head_ + `,"choices":[{"index":0,"delta":`
};

// One tool call of an answer, as the client sees it.
struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

// The non-streaming `chat.completion` body; `reasoning` adds message.reasoning_content; with
// tool calls, message.tool_calls, content null when there is no text, finish_reason
// "tool_calls".
std::string completionJson(std::string_view id, long created, std::string_view model,
                           std::string_view content, std::optional<std::string_view> reasoning,
                           const Usage& usage, const std::vector<ToolCallOut>& toolCalls = {});

// The same error object as ApiError::json(), with the text repaired to valid UTF-8.
void appendErrorJson(std::string& out, const ApiError& error);

// The OpenAI chat surface's AnswerEncoder: `chat.completion.chunk` events while streaming (the
// role first, then content, reasoning_content and tool_calls deltas, the stop chunk, the usage
// chunk when asked, [DONE]), else one `chat.completion` body. Tool calls get ids of their own,
// `call_<the completion id's random part>_<index>`: unique, whatever the backend named them.
class OpenAiAnswer final : public AnswerEncoder {
 public:
  OpenAiAnswer(std::string id, long created, std::string model, bool stream, bool includeUsage);

  bool streaming() const override { return stream_; }
  void onEvent(const conversation::Event& event, std::string& out) override;
  void finish(const Answer& answer, std::string& out) override;
  void fail(const ApiError& error, std::string& out) override;
  std::string toolCallId(size_t index) const override;

 private:
  std::string id_;
  long created_;
  std::string model_;
  bool stream_;
  bool includeUsage_;
  ChunkEncoder chunks_;
  bool opened_ = false;
  std::vector<ToolCallOut> calls_;
};

inline constexpr size_t kCompletionIdRandomChars = 29;

// `prefix` followed by `n` random letters and digits drawn from `random`.
template <std::uniform_random_bit_generator Random>
std::string randomId(std::string_view prefix, size_t n, Random& random) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id(prefix);
  for (size_t i = 0; i < n; ++i) id += kAlphabet[pick(random)];
  return id;
}

// "chatcmpl-" followed by 29 random letters and digits drawn from `random`.
template <std::uniform_random_bit_generator Random>
std::string newCompletionId(Random& random) {
  return randomId("chatcmpl-", kCompletionIdRandomChars, random);
}

}  // namespace api
