#include "qodo/chat_body.h"

#include "api/json_text.h"
#include "qodo/chinese_transform.h"
#include "qodo/tool_prompt.h"

namespace qodo {

std::string chatBodyJson(const ChatTurns& turns, std::string_view backendModel,
                         const ClientIds& ids) {
  using api::appendJsonString;
  size_t size = 640 + turns.chatInput.size();
  for (const auto& turn : turns.previous) size += turn.content.size() + 64;
  std::string out;
  out.reserve(size + size / 8);
  out += R"({"max_remote_context":0,"remote_context_tags":[],"max_repo_context":5,)";
  out += R"("user_data":{"installation_id":)";
  appendJsonString(out, ids.installationId);
  out += R"(,"installation_fingerprint_uuid":)";
  appendJsonString(out, ids.fingerprintUuid);
  out += R"(,"editor_version":"1.98.2","extension_version":"1.0.4","os_platform":"darwin",)"
         R"("os_version":"v20.18.2","editor_type":"vscode"},)";
  out += R"("task":"","chat_input":)";
  appendJsonString(out, turns.chatInput);
  out += R"(,"previous_messages":[)";
  bool first = true;
  for (const auto& turn : turns.previous) {
    if (!first) out += ',';
    first = false;
    out += R"({"role":)";
    appendJsonString(out, turn.role);
    out += R"(,"content":)";
    appendJsonString(out, turn.content);
    if (turn.role == "user") out += R"(,"command":"chat","mode":"freeChat")";
    out += '}';
  }
  out += R"(],"user_context":[],"repo_context":[],"custom_model":)";
  appendJsonString(out, backendModel);
  out += R"(,"supports_artifacts":true})";
  return out;
}

std::string buildChatBody(const conversation::Conversation& conversation,
                          std::string_view backendModel, const ClientIds& ids,
                          bool chineseChatEnabled) {
  ChatTurns turns = toChatTurns(conversation.messages);
  // The tools are described in the system turn (SPEC §10: emulated on this backend).
  if (std::string tools = toolInstructions(conversation); !tools.empty()) {
    if (!turns.previous.empty() && turns.previous.front().role == "system")
      turns.previous.front().content += "\n\n" + tools;
    else
      turns.previous.insert(turns.previous.begin(), Turn{"system", std::move(tools)});
  }
  if (chineseChatEnabled && needsChineseTransform(turns)) applyChineseTransform(turns);
  return chatBodyJson(turns, backendModel, ids);
}

}  // namespace qodo
