// The OpenAI chat request as the gateway understands it (SPEC.md §3): parsing and validating a
// POST /v1/chat/completions body into a ChatRequest, or into the 400 the client should see.
// Nothing here throws; every failure is an ApiError value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/error.h"
#include "api/models.h"

namespace api {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxMessages = 10000;

struct Message {
  std::string role;     // one of "system", "user", "assistant", "tool"
  std::string content;  // text parts joined with "\n"; never empty
};

struct ChatRequest {
  std::string model;
  const ModelInfo* modelInfo = nullptr;  // never null in a parsed request
  std::vector<Message> messages;         // at least one
  bool stream = false;
  bool includeUsage = false;      // stream_options.include_usage
  std::optional<long> maxTokens;  // max_completion_tokens, else max_tokens
};

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
// is taken as `system`.
ParsedChatRequest parseChatRequest(std::string_view body);

}  // namespace api
