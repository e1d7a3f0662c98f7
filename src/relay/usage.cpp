#include "relay/usage.h"

#include <variant>

#include "relay/token_cache.h"

namespace relay {

size_t promptTokens(const conversation::Conversation& conversation, tokenizer::Encoding encoding) {
  using tokenizer::countTokens;
  size_t total = 3;
  // A conversation's earlier messages were counted on its earlier turns.
  auto& cache = TokenCountCache::shared();
  for (const auto& m : conversation.messages) total += cache.messageTokens(m, encoding);
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
