#include "qodo/command_query.h"

#include <variant>

#include "api/json_text.h"

namespace qodo {
namespace {

using conversation::Message;
using conversation::Role;

// The `user_data` the CLI 0.36.0 sends (QODO-PROTOCOL.md §3); no value of this machine.
constexpr std::string_view kUserData =
    R"({"extension_version":"0.36.0","os_platform":"linux","os_version":"v22.11.0",)"
    R"("editor_type":"cli"})";

void appendTurn(std::string& out, std::string_view label, std::string_view text) {
  out += '[';
  out += label;
  out += "]\n";
  out += text;
  out += "\n\n";
}

// One message of the history, as the model reads it: a labelled block per text, tool call and
// tool result, so it sees each turn, each call with its tool's name, and each result.
void appendMessage(std::string& out, const Message& m,
                   const std::vector<std::pair<std::string, std::string>>& callNames) {
  const std::string_view who = m.role == Role::kAssistant ? "assistant" : "user";
  std::string text;
  for (const auto& part : m.parts) {
    if (const auto* t = std::get_if<conversation::Text>(&part)) {
      if (!text.empty()) text += '\n';
      text += t->text;
    }
  }
  if (!text.empty()) appendTurn(out, who, text);
  for (const auto& part : m.parts) {
    if (const auto* call = std::get_if<conversation::ToolCall>(&part)) {
      appendTurn(out, "assistant called the tool " + call->name + " (call " + call->id + ")",
                 call->arguments.empty() ? "{}" : call->arguments);
    } else if (const auto* result = std::get_if<conversation::ToolResult>(&part)) {
      std::string name;
      for (const auto& [id, toolName] : callNames)
        if (id == result->callId) name = toolName;
      std::string label = "result of the tool ";
      label += name.empty() ? "call" : name;
      if (!result->callId.empty()) label += " (call " + result->callId + ")";
      if (result->isError) label += ", an error";
      appendTurn(out, label, result->content);
    }
  }
}

}  // namespace

CommandQuery renderCommandQuery(const conversation::Conversation& conversation) {
  CommandQuery query;
  std::vector<const Message*> turns;
  std::vector<std::pair<std::string, std::string>> callNames;  // call id → tool name
  for (const Message& m : conversation.messages) {
    if (m.role == Role::kSystem) {
      if (!query.systemPrompt.empty()) query.systemPrompt += "\n\n";
      query.systemPrompt += m.text();
      continue;
    }
    turns.push_back(&m);
    for (const auto& part : m.parts)
      if (const auto* call = std::get_if<conversation::ToolCall>(&part))
        callNames.emplace_back(call->id, call->name);
  }
  if (query.systemPrompt.empty()) query.systemPrompt = kNeutralSystemPrompt;

  // The common case, one user message: sent as it is.
  if (turns.size() == 1 && turns[0]->role == Role::kUser) {
    query.userRequest = turns[0]->text();
    return query;
  }
  // A last user turn that carries tool results (Anthropic's shape) is history like a tool
  // message: its results are labelled there, and the model goes on from them.
  auto carriesResults = [](const Message& m) {
    for (const auto& part : m.parts)
      if (std::holds_alternative<conversation::ToolResult>(part)) return true;
    return false;
  };
  const bool endsWithUser =
      !turns.empty() && turns.back()->role == Role::kUser && !carriesResults(*turns.back());
  const size_t historyEnd = endsWithUser ? turns.size() - 1 : turns.size();
  std::string& out = query.userRequest;
  if (historyEnd > 0) {
    out += "The conversation so far:\n\n";
    for (size_t i = 0; i < historyEnd; ++i) appendMessage(out, *turns[i], callNames);
  }
  if (endsWithUser) {
    if (historyEnd > 0) out += "The user's new message, to answer now:\n\n";
    out += turns.back()->text();
  } else {
    out += "Continue from the last turn above.";
  }
  return query;
}

namespace {
constexpr std::string_view kFrameHead = R"(UserQuery {"agent_type":"cli","session_id":")";
}

bool setSessionId(std::string& frame, std::string_view sessionId) {
  if (frame.compare(0, kFrameHead.size(), kFrameHead) != 0) return false;
  const size_t end = frame.find('"', kFrameHead.size());
  if (end == std::string::npos || end - kFrameHead.size() != sessionId.size()) return false;
  frame.replace(kFrameHead.size(), sessionId.size(), sessionId);
  return true;
}

std::string userQueryFrame(const conversation::Conversation& conversation,
                           std::string_view backendModel, std::string_view sessionId) {
  using api::appendJsonString;
  const CommandQuery query = renderCommandQuery(conversation);
  std::string out;
  out.reserve(512 + query.systemPrompt.size() + query.userRequest.size());
  out += R"(UserQuery {"agent_type":"cli","session_id":)";
  appendJsonString(out, sessionId);
  out += R"(,"user_data":)";
  out += kUserData;
  out += R"(,"tools":{)";
  if (!conversation.tools.empty() &&
      conversation.toolChoice.mode != conversation::ToolChoice::Mode::kNone) {
    appendJsonString(out, kClientToolServer);
    out += ":[";
    bool first = true;
    for (const auto& tool : conversation.tools) {
      if (conversation.toolChoice.mode == conversation::ToolChoice::Mode::kNamed &&
          tool.name != conversation.toolChoice.name)
        continue;
      if (!first) out += ',';
      first = false;
      out += R"({"name":)";
      appendJsonString(out, tool.name);
      out += R"(,"description":)";
      appendJsonString(out, tool.description);
      // The schema was checked to be a JSON object by the surface that read it.
      out += R"(,"inputSchema":)";
      out += tool.parameters.empty() ? std::string_view(R"({"type":"object"})")
                                     : std::string_view(tool.parameters);
      out += R"(,"autoApproved":false})";
    }
    out += ']';
  }
  out += R"(},"permissions":"-","projects_root_path":[],"system_prompt":)";
  appendJsonString(out, query.systemPrompt);
  out += R"(,"user_request":)";
  appendJsonString(out, query.userRequest);
  out += R"(,"ci_mode":true,"images":[)";
  bool firstImage = true;
  for (const auto& m : conversation.messages) {
    for (const auto& part : m.parts) {
      if (const auto* image = std::get_if<conversation::Image>(&part)) {
        if (!firstImage) out += ',';
        firstImage = false;
        appendJsonString(out, image->dataUrl);
      }
    }
  }
  out += R"(],"custom_model":)";
  appendJsonString(out, backendModel);
  out += "}\n";
  return out;
}

}  // namespace qodo
