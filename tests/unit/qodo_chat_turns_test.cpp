#include <gtest/gtest.h>

#include "qodo/chat_turns.h"

namespace {

using Turns = std::vector<qodo::Turn>;

// toChatTurns over text messages given as {role, text}.
qodo::ChatTurns turnsOf(std::initializer_list<std::pair<std::string_view, std::string>> said) {
  std::vector<conversation::Message> messages;
  for (const auto& [role, text] : said) {
    const auto kind = role == "system"      ? conversation::Role::kSystem
                      : role == "assistant" ? conversation::Role::kAssistant
                      : role == "tool"      ? conversation::Role::kTool
                                            : conversation::Role::kUser;
    messages.push_back(conversation::Message::ofText(kind, text));
  }
  return qodo::toChatTurns(messages);
}

TEST(ChatTurns, TheLastUserTurnBecomesChatInputAndTheRestStayInOrder) {
  auto c = turnsOf({{"system", "s"},
                    {"user", "u1"},
                    {"assistant", "a1"},
                    {"user", "u2"},
                    {"assistant", "prefill"}});
  EXPECT_EQ(c.chatInput, "u2");
  EXPECT_TRUE(
      (c.previous ==
       Turns{{"system", "s"}, {"user", "u1"}, {"assistant", "a1"}, {"assistant", "prefill"}}));
}

TEST(ChatTurns, WithoutAUserTurnChatInputIsHi) {
  auto c = turnsOf({{"system", "s"}, {"assistant", "a"}});
  EXPECT_EQ(c.chatInput, "hi!");
  EXPECT_TRUE((c.previous == Turns{{"system", "s"}, {"assistant", "a"}}));
}

TEST(ChatTurns, ToolResultsBecomeLabelledUserTurns) {
  auto c = turnsOf({{"user", "weather?"}, {"tool", "{\"temp\":21}"}});
  EXPECT_EQ(c.chatInput, "Result of the tool call:\n{\"temp\":21}");
  EXPECT_TRUE((c.previous == Turns{{"user", "weather?"}}));
}

TEST(ChatTurns, AnEarlierToolResultStaysInHistory) {
  auto c = turnsOf({{"tool", "42"}, {"user", "and now?"}});
  EXPECT_EQ(c.chatInput, "and now?");
  EXPECT_TRUE((c.previous == Turns{{"user", "Result of the tool call:\n42"}}));
}

}  // namespace
