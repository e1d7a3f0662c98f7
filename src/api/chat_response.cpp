#include "api/chat_response.h"

#include "api/json_text.h"

#include <algorithm>

namespace api {
namespace {

// Closes the delta object the caller opened, then the choice, the array and the chunk.
constexpr std::string_view kChoiceTail = R"(},"finish_reason":null}]})"
                                         "\n\n";

void appendOptionalString(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    appendJsonString(out, *value);
  } else {
    out += "null";
  }
}

void appendUsageObject(std::string& out, const Usage& usage) {
  out += R"({"prompt_tokens":)";
  appendJsonInt(out, usage.promptTokens);
  out += R"(,"completion_tokens":)";
  appendJsonInt(out, usage.completionTokens);
  out += R"(,"total_tokens":)";
  appendJsonInt(out, usage.promptTokens + usage.completionTokens);
  out += '}';
}

}  // namespace

ChunkEncoder::ChunkEncoder(std::string_view id, long created, std::string_view model) {
  head_ = R"(data: {"id":)";
  appendJsonString(head_, id);
  head_ += R"(,"object":"chat.completion.chunk","created":)";
  appendJsonInt(head_, created);
  head_ += R"(,"model":)";
  appendJsonString(head_, model);
  choiceHead_ = head_ + R"(,"choices":[{"index":0,"delta":)";
}

void ChunkEncoder::appendDelta(std::string& out, std::string_view deltaField,
                               std::string_view text) const {
  out += choiceHead_;
  out += "{\"";
  out += deltaField;
  out += "\":";
  appendJsonString(out, text);
  out += kChoiceTail;
}

void ChunkEncoder::appendRole(std::string& out) const {
  out += choiceHead_;
  out += R"({"role":"assistant","content":"")";
  out += kChoiceTail;
}

void ChunkEncoder::appendContent(std::string& out, std::string_view text) const {
  appendDelta(out, "content", text);
}

void ChunkEncoder::appendReasoning(std::string& out, std::string_view text) const {
  appendDelta(out, "reasoning_content", text);
}

void ChunkEncoder::appendToolCallStart(std::string& out, size_t index, std::string_view id,
                                       std::string_view name) const {
  out += choiceHead_;
  out += R"({"tool_calls":[{"index":)";
  appendJsonInt(out, static_cast<long>(index));
  out += R"(,"id":)";
  appendJsonString(out, id);
  out += R"(,"type":"function","function":{"name":)";
  appendJsonString(out, name);
  out += R"(,"arguments":""}}])";
  out += kChoiceTail;
}

void ChunkEncoder::appendToolCallArguments(std::string& out, size_t index,
                                           std::string_view piece) const {
  out += choiceHead_;
  out += R"({"tool_calls":[{"index":)";
  appendJsonInt(out, static_cast<long>(index));
  out += R"(,"function":{"arguments":)";
  appendJsonString(out, piece);
  out += "}}]";
  out += kChoiceTail;
}

void ChunkEncoder::appendStop(std::string& out, std::string_view finishReason) const {
  out += choiceHead_;
  out += R"({},"finish_reason":")";
  out += finishReason;
  out += R"("}]})"
         "\n\n";
}

void ChunkEncoder::appendUsage(std::string& out, const Usage& usage) const {
  out += head_;
  out += R"(,"choices":[],"usage":)";
  appendUsageObject(out, usage);
  out += "}\n\n";
}

void ChunkEncoder::appendError(std::string& out, const ApiError& error) {
  out += "data: ";
  appendErrorJson(out, error);
  out += "\n\n";
}

void ChunkEncoder::appendDone(std::string& out) { out += "data: [DONE]\n\n"; }

void appendErrorJson(std::string& out, const ApiError& error) {
  out += R"({"error":{"message":)";
  appendJsonString(out, error.message);
  out += R"(,"type":)";
  appendJsonString(out, error.type);
  out += R"(,"param":)";
  appendOptionalString(out, error.param);
  out += R"(,"code":)";
  appendOptionalString(out, error.code);
  out += "}}";
}

std::string completionJson(std::string_view id, long created, std::string_view model,
                           std::string_view content, std::optional<std::string_view> reasoning,
                           const Usage& usage, const std::vector<ToolCallOut>& toolCalls) {
  std::string out;
  out.reserve(256 + content.size() + (reasoning ? reasoning->size() : 0));
  out += R"({"id":)";
  appendJsonString(out, id);
  out += R"(,"object":"chat.completion","created":)";
  appendJsonInt(out, created);
  out += R"(,"model":)";
  appendJsonString(out, model);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  if (content.empty() && !toolCalls.empty())
    out += "null";
  else
    appendJsonString(out, content);
  if (reasoning) {
    out += R"(,"reasoning_content":)";
    appendJsonString(out, *reasoning);
  }
  if (!toolCalls.empty()) {
    out += R"(,"tool_calls":[)";
    for (size_t i = 0; i < toolCalls.size(); ++i) {
      if (i != 0) out += ',';
      out += R"({"id":)";
      appendJsonString(out, toolCalls[i].id);
      out += R"(,"type":"function","function":{"name":)";
      appendJsonString(out, toolCalls[i].name);
      out += R"(,"arguments":)";
      appendJsonString(out, toolCalls[i].arguments);
      out += "}}";
    }
    out += ']';
  }
  out += toolCalls.empty() ? R"(},"finish_reason":"stop"}],"usage":)"
                           : R"(},"finish_reason":"tool_calls"}],"usage":)";
  appendUsageObject(out, usage);
  out += '}';
  return out;
}

// ---- OpenAiAnswer ----------------------------------------------------------------------------

OpenAiAnswer::OpenAiAnswer(std::string id, long created, std::string model, bool stream,
                           bool includeUsage)
    : id_(std::move(id)),
      created_(created),
      model_(std::move(model)),
      stream_(stream),
      includeUsage_(includeUsage),
      chunks_(id_, created_, model_) {}

void OpenAiAnswer::onEvent(const conversation::Event& event, std::string& out) {
  using conversation::EventKind;
  // Tool calls are kept whether streaming or not: the whole answer lists them at the end.
  if (event.kind == EventKind::kToolCallBegin) {
    if (event.index != calls_.size()) return;  // a decoder numbers its calls 0, 1, …
    calls_.push_back({toolCallId(event.index), std::string(event.text), {}});
  } else if (event.kind == EventKind::kToolCallArguments) {
    if (event.index >= calls_.size()) return;
    calls_[event.index].arguments += event.text;
  } else if (event.kind != EventKind::kText && event.kind != EventKind::kReasoning) {
    return;  // kToolCallEnd shows nothing; kEnd and kFailure come through finish() and fail()
  }
  if (!stream_) return;
  if (!opened_) {
    opened_ = true;
    chunks_.appendRole(out);
  }
  switch (event.kind) {
    case EventKind::kText:
      chunks_.appendContent(out, event.text);
      break;
    case EventKind::kReasoning:
      chunks_.appendReasoning(out, event.text);
      break;
    case EventKind::kToolCallBegin:
      chunks_.appendToolCallStart(out, event.index, calls_.back().id, calls_.back().name);
      break;
    case EventKind::kToolCallArguments:
      chunks_.appendToolCallArguments(out, event.index, event.text);
      break;
    default:
      break;
  }
}

std::string OpenAiAnswer::toolCallId(size_t index) const {
  // "chatcmpl-" + the random part: unique per answer, then the call's index.
  return "call_" + id_.substr(std::min<size_t>(9, id_.size())) + "_" + std::to_string(index);
}

void OpenAiAnswer::finish(const Answer& answer, std::string& out) {
  if (!stream_) {
    std::optional<std::string_view> reasoning;
    if (!answer.reasoning.empty()) reasoning = answer.reasoning;
    out += completionJson(id_, created_, model_, answer.content, reasoning, answer.usage, calls_);
    return;
  }
  if (!opened_) {
    // An answer of tool calls only still opens with the role.
    opened_ = true;
    chunks_.appendRole(out);
  }
  chunks_.appendStop(out, calls_.empty() ? "stop" : "tool_calls");
  if (includeUsage_) chunks_.appendUsage(out, answer.usage);
  ChunkEncoder::appendDone(out);
}

void OpenAiAnswer::fail(const ApiError& error, std::string& out) {
  ChunkEncoder::appendError(out, error);
  ChunkEncoder::appendDone(out);
}

}  // namespace api
