// The OpenAI chat request as the gateway understands it (SPEC.md §3): parsing and validating a
// POST /v1/chat/completions body into a ChatRequest, or into the 400 the client should see.
// Nothing here throws; every failure is an ApiError value.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/fwd.hpp>

#include "api/error.h"
#include "api/models.h"
#include "conversation/conversation.h"

namespace api {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxMessages = 10000;

// The client surface a request came in on, which decides how its answer and errors look.
enum class Surface { kOpenAi, kAnthropic };

// The conversation (model, messages, limits) and what each surface asks for besides.
struct ChatRequest {
  // `model` is never empty, `messages` holds at least one message and none whose text is empty.
  conversation::Conversation conversation;
  const ModelInfo* modelInfo = nullptr;  // never null in a parsed request
  bool stream = false;
  bool includeUsage = false;  // stream_options.include_usage
  bool seedModel = false;     // the model is in the seed table (chats accounts serve it)
  bool hasImages = false;     // a user message carries a data-URL image (command accounts only)
  // Anthropic: `thinking` enabled (reasoning shown as thinking blocks) and `stop_sequences`.
  bool thinking = false;
  std::vector<std::string> stopSequences;
};

// The model a client's name stands for (MODEL_ALIASES, the seed table, the command accounts'
// live lists), or null when none. Without one, only the seed table is looked in.
using ModelLookup = std::function<const ModelInfo*(std::string_view id)>;

// Either a ChatRequest or the error to answer with.
class ParsedChatRequest {
 public:
  ParsedChatRequest(ChatRequest request) : value_(std::move(request)) {}
  ParsedChatRequest(ApiError error) : value_(std::move(error)) {}

  bool ok() const { return value_.index() == 0; }
  explicit operator bool() const { return ok(); }
  ChatRequest& request() { return std::get<ChatRequest>(value_); }
  const ChatRequest& request() const { return std::get<ChatRequest>(value_); }
  const ApiError& error() const { return std::get<ApiError>(value_); }

 private:
  std::variant<ChatRequest, ApiError> value_;
};

// Unknown fields are ignored. A `developer` message (OpenAI's newer name for the system role)
// is taken as `system`; a `tool` message is a tool result (its text, and `tool_call_id`).
// max_completion_tokens wins over max_tokens. The model is looked up with `live`. An
// `image_url` part must be a data URL and only user messages may carry one. A `tool` message
// must answer a call of an earlier assistant message.
ParsedChatRequest parseChatRequest(std::string_view body, const ModelLookup& live = {});

// Parses `body` as JSON (depth-limited, every failure a 400 or 500 value, never a throw) and
// hands the document to `read`: the part both surfaces share.
ParsedChatRequest parseJsonBody(
    std::string_view body, const std::function<ParsedChatRequest(const boost::json::value&)>& read);

}  // namespace api
