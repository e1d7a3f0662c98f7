// A conversation reshaped the way the chats backend sees it (SPEC.md §4): the text of the last
// user turn as `chat_input` and every other turn, in order, as `previous_messages`.
#pragma once

#include <string>
#include <vector>

#include "conversation/conversation.h"

namespace qodo {

struct Turn {
  std::string role;  // "system", "user" or "assistant"
  std::string content;

  bool operator==(const Turn&) const = default;
};

struct ChatTurns {
  std::string chatInput;
  std::vector<Turn> previous;
};

inline constexpr std::string_view kEmptyChatInput = "hi!";
// The backend knows no tool role, so tool results become a user turn ("Result of the tool
// <name> (call <id>):\n…", one turn for consecutive results); it counts as a user turn for
// `chat_input`, so an agent loop that ends with tool results asks the model to go on from them.
// An assistant turn's tool calls follow its text as the markup the tool instructions ask for
// (qodo/tool_prompt.h). With no user turn at all, `chat_input` is kEmptyChatInput.
ChatTurns toChatTurns(const std::vector<conversation::Message>& messages);

}  // namespace qodo
