#include "relay/usage.h"

namespace relay {

size_t promptTokens(const conversation::Conversation& conversation, tokenizer::Encoding encoding) {
  size_t total = 3;
  for (const auto& m : conversation.messages)
    total += 3 + tokenizer::countTokens(encoding, conversation::roleName(m.role)) +
             tokenizer::countTokens(encoding, m.text());
  return total;
}

size_t completionTokens(tokenizer::Encoding encoding, std::string_view reasoning,
                        std::string_view content) {
  return tokenizer::countTokens(encoding, reasoning) + tokenizer::countTokens(encoding, content);
}

}  // namespace relay
