// qodo::buildChatBody on any request (message texts and model names of any bytes, any roles,
// the Chinese work-around on or off): the body is valid JSON in valid UTF-8 with the fields
// the backend reads, and, for valid UTF-8 text, chat_input and previous_messages carry the
// conversation exactly (URL-encoded when the work-around applied).
#include "qodo/chat_body.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "api/models.h"
#include "fuzz_check.h"
#include "qodo/chat_turns.h"
#include "qodo/chinese_transform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr conversation::Role kRoles[] = {
      conversation::Role::kSystem, conversation::Role::kUser, conversation::Role::kAssistant,
      conversation::Role::kTool};
  fuzz::Reader in(data, size);
  const uint8_t flags = in.byte();
  const bool chinese = flags & 1;
  conversation::Conversation request;
  std::string backendModel;
  const auto models = api::models();
  const api::ModelInfo* modelInfo = nullptr;
  if (flags & 2) {
    request.model = in.string(32);  // not a known model: its name is sent as is
    backendModel = request.model;
  } else {
    modelInfo = &models[in.byte() % models.size()];
    request.model = modelInfo->id;
    backendModel = modelInfo->backend;
  }
  const size_t count = 1 + in.byte() % 8;
  bool allValid = fuzz::validUtf8(request.model);
  for (size_t i = 0; i < count; ++i) {
    const conversation::Role role = kRoles[in.byte() % 4];
    std::string content(in.string());
    allValid = allValid && fuzz::validUtf8(content);
    request.messages.push_back(conversation::Message::ofText(role, std::move(content)));
  }
  const qodo::ClientIds ids{"00000000-0000-4000-8000-000000000000",
                            "11111111-1111-4111-8111-111111111111"};

  const std::string body = qodo::buildChatBody(request, backendModel, ids, chinese);
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

  qodo::ChatTurns want = qodo::toChatTurns(request.messages);
  const bool transformed = chinese && qodo::needsChineseTransform(want);
  if (transformed) qodo::applyChineseTransform(want);
  FUZZ_CHECK(obj.at("chat_input").as_string() == want.chatInput);
  FUZZ_CHECK(previous.size() == want.previous.size());
  for (size_t i = 0; i < previous.size(); ++i) {
    FUZZ_CHECK(previous[i].at("role").as_string() == want.previous[i].role);
    FUZZ_CHECK(previous[i].at("content").as_string() == want.previous[i].content);
  }
  FUZZ_CHECK(obj.at("custom_model").as_string() == backendModel);
  if (transformed && modelInfo) FUZZ_CHECK(!qodo::containsCjk(body));
  return 0;
}
