// api::parseChatRequest on any body: never crashes; the result is either a request that keeps
// every promise of ChatRequest, or an ApiError whose body is valid JSON with the OpenAI shape.
#include "api/chat_request.h"

#include <cstdint>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  api::ParsedChatRequest parsed = api::parseChatRequest(body);
  if (parsed.ok()) {
    const api::ChatRequest& r = parsed.request();
    const conversation::Conversation& c = r.conversation;
    FUZZ_CHECK(r.modelInfo != nullptr);
    FUZZ_CHECK(api::findModel(c.model) == r.modelInfo);
    FUZZ_CHECK(!c.messages.empty());
    FUZZ_CHECK(c.messages.size() <= api::kMaxMessages);
    for (const conversation::Message& m : c.messages) {
      const std::string text = m.text();
      FUZZ_CHECK(!text.empty());
      FUZZ_CHECK(fuzz::validUtf8(text));  // it came out of a valid JSON text
    }
    if (c.maxTokens) FUZZ_CHECK(*c.maxTokens >= 1 && *c.maxTokens <= api::kMaxTokensLimit);
    return 0;
  }
  const api::ApiError& e = parsed.error();
  FUZZ_CHECK(e.status >= 400 && e.status <= 499);
  FUZZ_CHECK(!e.message.empty());
  const auto json = fuzz::parseJson(e.json());
  FUZZ_CHECK(json && json->is_object());
  const auto* error = json->as_object().if_contains("error");
  FUZZ_CHECK(error && error->is_object());
  FUZZ_CHECK(error->as_object().at("message").is_string());
  FUZZ_CHECK(error->as_object().at("type").is_string());
  return 0;
}
