// qodo::buildChatBody on any request (message texts and model names of any bytes, any roles,
// the Chinese work-around on or off): the body is valid JSON in valid UTF-8 with the fields
// the backend reads, and, for valid UTF-8 text, chat_input and previous_messages carry the
// conversation exactly (URL-encoded when the work-around applied).
#include "qodo/chat_body.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "api/chat_request.h"
#include "fuzz_check.h"
#include "qodo/chinese_transform.h"
#include "qodo/conversation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr std::string_view kRoles[] = {"system", "user", "assistant", "tool"};
  fuzz::Reader in(data, size);
  const uint8_t flags = in.byte();
  const bool chinese = flags & 1;
  api::ChatRequest request;
  const auto models = api::models();
  if (flags & 2) {
    request.model = in.string(32);  // not a known model: its name is sent as is
  } else {
    request.modelInfo = &models[in.byte() % models.size()];
    request.model = request.modelInfo->id;
  }
  const size_t count = 1 + in.byte() % 8;
  bool allValid = fuzz::validUtf8(request.model);
  for (size_t i = 0; i < count; ++i) {
    const std::string_view role = kRoles[in.byte() % 4];
    std::string content(in.string());
    allValid = allValid && fuzz::validUtf8(content);
    request.messages.push_back({std::string(role), std::move(content)});
  }
  const qodo::ClientIds ids{"00000000-0000-4000-8000-000000000000",
                            "11111111-1111-4111-8111-111111111111"};

  const std::string body = qodo::buildChatBody(request, ids, chinese);
  const auto json = fuzz::parseJson(body);
  FUZZ_CHECK(json && json->is_object());
  const auto& obj = json->as_object();
  FUZZ_CHECK(obj.at("chat_input").is_string());
  FUZZ_CHECK(obj.at("custom_model").is_string());
  const auto& previous = obj.at("previous_messages").as_array();
  for (const auto& turn : previous) {
    const auto& role = turn.at("role").as_string();
    FUZZ_CHECK(role == "system" || role == "user" || role == "assistant");
    FUZZ_CHECK(turn.at("content").is_string());
  }
  if (!allValid) return 0;

  qodo::Conversation want = qodo::toConversation(request.messages);
  const bool transformed = chinese && qodo::needsChineseTransform(want);
  if (transformed) qodo::applyChineseTransform(want);
  FUZZ_CHECK(obj.at("chat_input").as_string() == want.chatInput);
  FUZZ_CHECK(previous.size() == want.previous.size());
  for (size_t i = 0; i < previous.size(); ++i) {
    FUZZ_CHECK(previous[i].at("role").as_string() == want.previous[i].role);
    FUZZ_CHECK(previous[i].at("content").as_string() == want.previous[i].content);
  }
  const std::string_view backend =
      request.modelInfo ? request.modelInfo->backend : std::string_view(request.model);
  FUZZ_CHECK(obj.at("custom_model").as_string() == backend);
  if (transformed && request.modelInfo) FUZZ_CHECK(!qodo::containsCjk(body));
  return 0;
}
