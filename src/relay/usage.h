// Token usage of a chat exchange, counted as OpenAI counts it (SPEC.md §3, Usage): each message
// costs 3 tokens plus its role plus its content, and 3 more prime the reply.
#pragma once

#include <cstddef>
#include <string_view>

#include "api/chat_request.h"

namespace relay {

size_t promptTokens(const api::ChatRequest& request);
size_t completionTokens(const api::ChatRequest& request, std::string_view reasoning,
                        std::string_view content);

}  // namespace relay
