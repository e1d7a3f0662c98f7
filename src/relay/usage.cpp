#include "relay/usage.h"

#include <variant>

namespace relay {

size_t promptTokens(const conversation::Conversation& conversation, tokenizer::Encoding encoding) {
  using tokenizer::countTokens;
  size_t total = 3;
  for (const auto& m : conversation.messages) {
    total += 3 + countTokens(encoding, conversation::roleName(m.role)) +
             countTokens(encoding, m.text());
    for (const auto& part : m.parts)
      if (const auto* call = std::get_if<conversation::ToolCall>(&part))
        total += countTokens(encoding, call->name) + countTokens(encoding, call->arguments);
  }
  for (const auto& tool : conversation.tools)
    total += countTokens(encoding, tool.name) + countTokens(encoding, tool.description) +
             countTokens(encoding, tool.parameters);
  return total;
}

size_t completionTokens(tokenizer::Encoding encoding, std::string_view reasoning,
                        std::string_view content) {
  return tokenizer::countTokens(encoding, reasoning) + tokenizer::countTokens(encoding, content);
}

}  // namespace relay
