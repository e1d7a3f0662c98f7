#include "qodo/chat_turns.h"

#include <unordered_map>
#include <variant>

#include "qodo/tool_prompt.h"

namespace qodo {
namespace {

using conversation::Message;
using conversation::Role;

bool onlyText(const Message& m) {
  for (const auto& part : m.parts)
    if (!std::holds_alternative<conversation::Text>(part)) return false;
  return true;
}

// A message with tool calls or results, as the model reads it: its texts and labelled results
// in order, then its calls as the markup the tool instructions ask for (qodo/tool_prompt.h).
std::string renderParts(const Message& m,
                        const std::unordered_map<std::string, std::string>& callNames) {
  std::string out;
  std::vector<const conversation::ToolCall*> calls;
  for (const auto& part : m.parts) {
    if (const auto* text = std::get_if<conversation::Text>(&part)) {
      if (!out.empty()) out += '\n';
      out += text->text;
    } else if (const auto* result = std::get_if<conversation::ToolResult>(&part)) {
      if (!out.empty()) out += "\n\n";
      const auto name = callNames.find(result->callId);
      appendResultText(out, *result, name == callNames.end() ? "" : name->second);
    } else if (const auto* call = std::get_if<conversation::ToolCall>(&part)) {
      calls.push_back(call);
    }
  }
  if (!calls.empty()) {
    if (!out.empty()) out += "\n\n";
    appendCallsMarkup(out, calls);
  }
  return out;
}

}  // namespace

ChatTurns toChatTurns(const std::vector<Message>& messages) {
  std::unordered_map<std::string, std::string> callNames;  // call id → tool name
  for (const auto& m : messages)
    for (const auto& part : m.parts)
      if (const auto* call = std::get_if<conversation::ToolCall>(&part))
        callNames.emplace(call->id, call->name);

  std::vector<Turn> turns;
  turns.reserve(messages.size());
  bool lastWasTool = false;
  for (const auto& m : messages) {
    const bool tool = m.role == Role::kTool;
    std::string text;
    if (!onlyText(m)) {
      text = renderParts(m, callNames);
    } else if (tool) {
      appendResultText(text, conversation::ToolResult{"", m.text(), false}, "");
    } else {
      text = m.text();
    }
    if (tool && lastWasTool) {
      // Results of one round of calls are one user turn.
      turns.back().content += "\n\n";
      turns.back().content += text;
      continue;
    }
    lastWasTool = tool;
    if (text.empty() && !tool) continue;
    turns.push_back({tool ? std::string("user") : std::string(conversation::roleName(m.role)),
                     std::move(text)});
  }
  ChatTurns out;
  size_t last = turns.size();
  for (size_t i = turns.size(); i-- > 0;) {
    if (turns[i].role == "user") {
      last = i;
      break;
    }
  }
  if (last == turns.size()) {
    out.chatInput = kEmptyChatInput;
    out.previous = std::move(turns);
    return out;
  }
  out.chatInput = std::move(turns[last].content);
  out.previous.reserve(turns.size() - 1);
  for (size_t i = 0; i < turns.size(); ++i) {
    if (i != last) out.previous.push_back(std::move(turns[i]));
  }
  return out;
}

}  // namespace qodo
