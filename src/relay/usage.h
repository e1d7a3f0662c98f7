// Token usage of a chat exchange, counted as OpenAI counts it (SPEC.md §3, Usage): each message
// costs 3 tokens plus its role plus its text (and its tool calls' names and arguments), the
// declared tools cost their names, descriptions and schemas, and 3 more prime the reply.
#pragma once

#include <cstddef>
#include <string_view>

#include "conversation/conversation.h"
#include "tokenizer/tokenizer.h"

namespace relay {

size_t promptTokens(const conversation::Conversation& conversation, tokenizer::Encoding encoding);
size_t completionTokens(tokenizer::Encoding encoding, std::string_view reasoning,
                        std::string_view content);

}  // namespace relay
