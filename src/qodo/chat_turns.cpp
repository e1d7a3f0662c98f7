#include "qodo/chat_turns.h"

namespace qodo {

ChatTurns toChatTurns(const std::vector<conversation::Message>& messages) {
  using conversation::Role;
  std::vector<Turn> turns;
  turns.reserve(messages.size());
  for (const auto& m : messages) {
    if (m.role == Role::kTool) {
      turns.push_back({"user", std::string(kToolResultPrefix) + m.text()});
      continue;
    }
    std::string text = m.text();
    // A turn of tool calls alone has no text for this backend (the markup emulation of SPEC
    // §10 is still to come): it is left out, as such turns always were.
    if (text.empty()) continue;
    turns.push_back({std::string(conversation::roleName(m.role)), std::move(text)});
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
