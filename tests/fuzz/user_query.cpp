// qodo::userQueryFrame on any conversation (texts, images, tool calls and results of any bytes,
// any roles, tools with any names and schemas that are JSON objects): the frame is
// `UserQuery <JSON object>\n` in valid UTF-8 with the fields the backend reads, and for valid
// UTF-8 input the rendered request keeps the last user message's text whole, at its end.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "qodo/command_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using conversation::Role;
  static constexpr Role kRoles[] = {Role::kSystem, Role::kUser, Role::kAssistant, Role::kTool};
  fuzz::Reader in(data, size);
  conversation::Conversation c;
  c.model = std::string(in.string(32));
  const size_t count = in.byte() % 8;
  for (size_t i = 0; i < count; ++i) {
    conversation::Message m;
    m.role = kRoles[in.byte() % 4];
    const size_t parts = 1 + in.byte() % 3;
    for (size_t p = 0; p < parts; ++p) {
      switch (in.byte() % 4) {
        case 0:
          m.parts.emplace_back(conversation::Text{std::string(in.string())});
          break;
        case 1:
          m.parts.emplace_back(conversation::Image{std::string(in.string())});
          break;
        case 2:
          m.parts.emplace_back(conversation::ToolCall{std::string(in.string(16)),
                                                      std::string(in.string(16)),
                                                      std::string(in.string())});
          break;
        default:
          m.parts.emplace_back(
              conversation::ToolResult{std::string(in.string(16)), std::string(in.string()), false});
      }
    }
    c.messages.push_back(std::move(m));
  }
  const size_t tools = in.byte() % 4;
  for (size_t i = 0; i < tools; ++i) {
    std::string schema(in.string());
    const auto json = fuzz::parseJson(schema);
    if (!json || !json->is_object()) schema.clear();  // the surface passes objects only
    c.tools.push_back({std::string(in.string(64)), std::string(in.string()), schema});
  }
  c.toolChoice.mode = static_cast<conversation::ToolChoice::Mode>(in.byte() % 4);
  c.toolChoice.name = std::string(in.string(64));

  const std::string frame = qodo::userQueryFrame(c, in.string(32), in.string(64));
  FUZZ_CHECK(frame.starts_with("UserQuery {") && frame.back() == '\n');
  const auto json = fuzz::parseJson(std::string_view(frame).substr(10, frame.size() - 11));
  FUZZ_CHECK(json && json->is_object());
  const auto& obj = json->as_object();
  for (const char* key : {"agent_type", "session_id", "system_prompt", "user_request",
                          "custom_model"})
    FUZZ_CHECK(obj.at(key).is_string());
  FUZZ_CHECK(obj.at("tools").is_object());
  FUZZ_CHECK(obj.at("images").is_array());
  FUZZ_CHECK(!obj.at("system_prompt").as_string().empty());

  if (!c.messages.empty() && c.messages.back().role == Role::kUser) {
    const std::string last = c.messages.back().text();
    if (fuzz::validUtf8(last))
      FUZZ_CHECK(std::string_view(obj.at("user_request").as_string()).ends_with(last));
  }
  return 0;
}
