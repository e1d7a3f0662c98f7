// The Anthropic Messages request (SPEC.md §11): a POST /v1/messages (or /count_tokens) body read
// into the same ChatRequest the OpenAI surface yields, so the relay, the backends, tools and
// usage are one code path for both surfaces. Errors are ApiError values; the http room shows
// them in Anthropic's shape (anthropicErrorJson).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "api/chat_request.h"
#include "api/error.h"

namespace api {

// `countOnly`: a count_tokens body (no `max_tokens`, no `stream`). Blocks: `text`, `image`
// (base64 source), `tool_use` (assistant), `tool_result` (user; its text and images),
// `thinking` and `redacted_thinking` (earlier reasoning, not sent on). Tools without an
// `input_schema` and of a type other than `custom` (Anthropic's server tools) are left out.
ParsedChatRequest parseMessagesRequest(std::string_view body, const ModelLookup& live = {},
                                       bool countOnly = false);

// The error as Anthropic's API answers it: the status (a gateway with no usable account is
// 529 overloaded_error, an unknown model 404 not_found_error) and
// {"type":"error","error":{"type","message"}}.
std::pair<int, std::string> anthropicErrorJson(const ApiError& error);

// `{"type":"error","error":{…}}` alone, for the error event of a stream that began.
std::string anthropicErrorBody(const ApiError& error);

}  // namespace api
