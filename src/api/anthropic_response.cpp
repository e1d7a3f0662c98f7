#include "api/anthropic_response.h"

#include <algorithm>

#include "api/anthropic_request.h"
#include "api/json_text.h"
#include "tokenizer/tokenizer.h"

namespace api {
namespace {

void appendEvent(std::string& out, std::string_view type) {
  out += "event: ";
  out += type;
  out += "\ndata: ";
}

// The length of the longest end of `text` that is the start (not the whole) of a stop sequence.
size_t heldLength(std::string_view text, const std::vector<std::string>& sequences) {
  size_t keep = 0;
  for (const auto& seq : sequences) {
    const size_t most = std::min(text.size(), seq.size() - 1);
    for (size_t n = most; n > keep; --n) {
      if (text.substr(text.size() - n) == std::string_view(seq).substr(0, n)) {
        keep = n;
        break;
      }
    }
  }
  return keep;
}

}  // namespace

AnthropicAnswer::AnthropicAnswer(AnthropicOptions options) : options_(std::move(options)) {}

std::string AnthropicAnswer::toolCallId(size_t index) const {
  // "toolu_" + the message id's random part (unique per answer) + the call's index.
  return "toolu_" + options_.id.substr(std::min<size_t>(4, options_.id.size())) + "_" +
         std::to_string(index);
}

void AnthropicAnswer::open(std::string& out) {
  if (opened_) return;
  opened_ = true;
  appendEvent(out, "message_start");
  out += R"({"type":"message_start","message":{"id":)";
  appendJsonString(out, options_.id);
  out += R"(,"type":"message","role":"assistant","model":)";
  appendJsonString(out, options_.model);
  out += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":)";
  appendJsonInt(out, inputTokens_);
  out += R"(,"output_tokens":0}}})";
  out += "\n\n";
  ping(out);
}

void AnthropicAnswer::ping(std::string& out) {
  appendEvent(out, "ping");
  out += R"({"type":"ping"})";
  out += "\n\n";
}

void AnthropicAnswer::startBlock(Block block, std::string& out, std::string_view name) {
  closeBlock(out);
  block_ = block;
  appendEvent(out, "content_block_start");
  out += R"({"type":"content_block_start","index":)";
  appendJsonInt(out, static_cast<long long>(blockIndex_));
  switch (block) {
    case Block::kThinking:
      out += R"(,"content_block":{"type":"thinking","thinking":"","signature":""}})";
      break;
    case Block::kText:
      out += R"(,"content_block":{"type":"text","text":""}})";
      break;
    case Block::kTool:
      out += R"(,"content_block":{"type":"tool_use","id":)";
      appendJsonString(out, toolCallId(calls_.size() - 1));
      out += R"(,"name":)";
      appendJsonString(out, name);
      out += R"(,"input":{}}})";
      break;
    case Block::kNone:
      break;
  }
  out += "\n\n";
}

void AnthropicAnswer::closeBlock(std::string& out) {
  if (block_ == Block::kNone) return;
  appendEvent(out, "content_block_stop");
  out += R"({"type":"content_block_stop","index":)";
  appendJsonInt(out, static_cast<long long>(blockIndex_));
  out += "}\n\n";
  ++blockIndex_;
  block_ = Block::kNone;
}

std::string_view AnthropicAnswer::cutText(std::string_view text) {
  if (options_.stopSequences.empty()) return text;
  cut_ = std::move(held_);
  held_.clear();
  cut_ += text;
  size_t first = std::string::npos;
  const std::string* which = nullptr;
  for (const auto& seq : options_.stopSequences) {
    const size_t at = cut_.find(seq);
    if (at < first) {
      first = at;
      which = &seq;
    }
  }
  if (which) {
    stopSequence_ = *which;
    cut_.resize(first);
    return cut_;
  }
  const size_t keep = heldLength(cut_, options_.stopSequences);
  held_.assign(cut_, cut_.size() - keep, keep);
  cut_.resize(cut_.size() - keep);
  return cut_;
}

void AnthropicAnswer::emitText(std::string_view text, std::string& out) {
  if (text.empty()) return;
  shownText_ += text;
  if (block_ != Block::kText) startBlock(Block::kText, out);
  appendDelta(out, "text_delta", "text", text);
}

void AnthropicAnswer::appendDelta(std::string& out, std::string_view type, std::string_view field,
                                  std::string_view piece) const {
  appendEvent(out, "content_block_delta");
  out += R"({"type":"content_block_delta","index":)";
  appendJsonInt(out, static_cast<long long>(blockIndex_));
  out += R"(,"delta":{"type":")";
  out += type;
  out += R"(",")";
  out += field;
  out += R"(":)";
  appendJsonString(out, piece);
  out += "}}\n\n";
}

void AnthropicAnswer::onEvent(const conversation::Event& event, std::string& out) {
  using conversation::EventKind;
  if (stopped()) return;  // a stop sequence ended the answer
  switch (event.kind) {
    case EventKind::kText:
      if (!options_.stream) return;
      open(out);
      emitText(cutText(event.text), out);
      return;
    case EventKind::kReasoning:
      if (!options_.stream || !options_.thinking || event.text.empty()) return;
      open(out);
      shownThinking_ += event.text;
      if (block_ != Block::kThinking) startBlock(Block::kThinking, out);
      appendDelta(out, "thinking_delta", "thinking", event.text);
      return;
    case EventKind::kToolCallBegin:
      skippingCall_ = event.index != calls_.size();  // a decoder numbers its calls 0, 1, …
      if (skippingCall_) return;
      calls_.push_back({std::string(event.text), {}});
      if (!options_.stream) return;
      open(out);
      // Text held for a stop sequence that did not come is text.
      if (!held_.empty()) {
        const std::string rest = std::move(held_);
        held_.clear();
        emitText(rest, out);
      }
      startBlock(Block::kTool, out, event.text);
      return;
    case EventKind::kToolCallArguments:
      if (skippingCall_ || calls_.empty()) return;
      calls_.back().input += event.text;
      if (!options_.stream) return;
      appendDelta(out, "input_json_delta", "partial_json", event.text);
      return;
    case EventKind::kToolCallEnd:
      if (skippingCall_ || !options_.stream) return;
      closeBlock(out);
      return;
    default:
      return;
  }
}

void AnthropicAnswer::appendEnding(std::string& out, bool toolUse, long inputTokens,
                                   bool delta) const {
  out += R"("stop_reason":)";
  out += stopped() ? R"("stop_sequence")" : toolUse ? R"("tool_use")" : R"("end_turn")";
  out += R"(,"stop_sequence":)";
  if (stopped())
    appendJsonString(out, stopSequence_);
  else
    out += "null";
  // message_delta: the reason is in "delta", the usage beside it.
  out += delta ? R"(},"usage":{"input_tokens":)" : R"(,"usage":{"input_tokens":)";
  appendJsonInt(out, inputTokens);
  out += R"(,"output_tokens":)";
  appendJsonInt(out, outputTokens());
  out += '}';
}

long AnthropicAnswer::outputTokens() const {
  using tokenizer::countTokens;
  size_t n = countTokens(options_.encoding, shownText_);
  if (options_.thinking) n += countTokens(options_.encoding, shownThinking_);
  for (const auto& call : calls_) n += countTokens(options_.encoding, call.input);
  return static_cast<long>(n);
}

void AnthropicAnswer::finish(const Answer& answer, std::string& out) {
  if (!options_.stream) {
    // The whole answer: the text through the stop sequences at once.
    std::string_view text = answer.content;
    if (!options_.stopSequences.empty()) {
      text = cutText(text);
      if (!stopped()) {
        cut_.append(held_);  // no stop sequence: what was held is text
        held_.clear();
        text = cut_;
      }
    }
    shownText_.assign(text);
    if (options_.thinking) shownThinking_.assign(answer.reasoning);
    const bool toolStop = !calls_.empty() && !stopped();
    out += R"({"id":)";
    appendJsonString(out, options_.id);
    out += R"(,"type":"message","role":"assistant","model":)";
    appendJsonString(out, options_.model);
    out += R"(,"content":[)";
    bool first = true;
    auto comma = [&] {
      if (!first) out += ',';
      first = false;
    };
    if (options_.thinking && !answer.reasoning.empty()) {
      comma();
      out += R"({"type":"thinking","thinking":)";
      appendJsonString(out, answer.reasoning);
      out += R"(,"signature":""})";
    }
    if (!shownText_.empty()) {
      comma();
      out += R"({"type":"text","text":)";
      appendJsonString(out, shownText_);
      out += '}';
    }
    if (!stopped()) {
      for (size_t i = 0; i < calls_.size(); ++i) {
        comma();
        out += R"({"type":"tool_use","id":)";
        appendJsonString(out, toolCallId(i));
        out += R"(,"name":)";
        appendJsonString(out, calls_[i].name);
        out += R"(,"input":)";
        // Arguments are a JSON object (every decoder promises it).
        out += calls_[i].input.empty() ? std::string_view("{}") : std::string_view(calls_[i].input);
        out += '}';
      }
    } else {
      calls_.clear();
    }
    out += "],";
    appendEnding(out, toolStop, answer.usage.promptTokens);
    out += '}';
    return;
  }
  open(out);
  if (!held_.empty()) {
    const std::string rest = std::move(held_);
    held_.clear();
    emitText(rest, out);
  }
  closeBlock(out);
  appendEvent(out, "message_delta");
  out += R"({"type":"message_delta","delta":{)";
  appendEnding(out, !calls_.empty(), answer.usage.promptTokens, true);
  out += "}\n\n";
  appendEvent(out, "message_stop");
  out += R"({"type":"message_stop"})";
  out += "\n\n";
}

void AnthropicAnswer::fail(const ApiError& error, std::string& out) {
  appendEvent(out, "error");
  out += anthropicErrorBody(error);
  out += "\n\n";
}

}  // namespace api
