#include "relay/usage.h"

#include "tokenizer/tokenizer.h"

namespace relay {

size_t promptTokens(const api::ChatRequest& request) {
  const auto encoding = request.modelInfo->encoding;
  size_t total = 3;
  for (const auto& m : request.messages)
    total +=
        3 + tokenizer::countTokens(encoding, m.role) + tokenizer::countTokens(encoding, m.content);
  return total;
}

size_t completionTokens(const api::ChatRequest& request, std::string_view reasoning,
                        std::string_view content) {
  const auto encoding = request.modelInfo->encoding;
  return tokenizer::countTokens(encoding, reasoning) + tokenizer::countTokens(encoding, content);
}

}  // namespace relay
