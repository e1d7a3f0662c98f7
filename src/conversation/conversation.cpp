#include "conversation/conversation.h"

#include <algorithm>

namespace conversation {

std::string_view roleName(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
    case Role::kTool:
      return "tool";
  }
  return "user";
}

Message Message::ofText(Role role, std::string text) {
  Message m;
  m.role = role;
  m.parts.emplace_back(Text{std::move(text)});
  return m;
}

std::string Message::text() const {
  std::string out;
  bool first = true;
  for (const Part& part : parts) {
    const std::string* piece = nullptr;
    if (const auto* t = std::get_if<Text>(&part)) piece = &t->text;
    if (const auto* r = std::get_if<ToolResult>(&part)) piece = &r->content;
    if (piece == nullptr) continue;
    if (!first) out += '\n';
    out += *piece;
    first = false;
  }
  return out;
}

std::optional<size_t> firstUnmatchedResult(const std::vector<Message>& messages) {
  std::vector<std::string_view> calls;
  for (size_t i = 0; i < messages.size(); ++i) {
    for (const Part& part : messages[i].parts) {
      if (const auto* call = std::get_if<ToolCall>(&part)) calls.push_back(call->id);
      if (const auto* result = std::get_if<ToolResult>(&part)) {
        if (std::find(calls.begin(), calls.end(), result->callId) == calls.end()) return i;
      }
    }
  }
  return std::nullopt;
}

}  // namespace conversation
