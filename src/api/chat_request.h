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

#include "api/error.h"
#include "api/models.h"
#include "conversation/conversation.h"

namespace api {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxMessages = 10000;

// The conversation (model, messages, limits) and what only the OpenAI surface asks for.
struct ChatRequest {
  // `model` is never empty, `messages` holds at least one message and none whose text is empty.
  conversation::Conversation conversation;
  const ModelInfo* modelInfo = nullptr;  // never null in a parsed request
  bool stream = false;
  bool includeUsage = false;  // stream_options.include_usage
  bool seedModel = false;     // the model is in the seed table (chats accounts serve it)
  bool hasImages = false;     // a user message carries a data-URL image (command accounts only)
};

// A model some account offers beyond the seed table (a command account's live list), or null.
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
// max_completion_tokens wins over max_tokens. A model not in the seed table is looked up in
// `live`. An `image_url` part must be a data URL and only user messages may carry one.
ParsedChatRequest parseChatRequest(std::string_view body, const ModelLookup& live = {});

}  // namespace api
