#include <gtest/gtest.h>

#include "qodo/conversation.h"

namespace {

using Turns = std::vector<qodo::Turn>;

TEST(Conversation, TheLastUserTurnBecomesChatInputAndTheRestStayInOrder) {
  auto c = qodo::toConversation({{"system", "s"},
                                 {"user", "u1"},
                                 {"assistant", "a1"},
                                 {"user", "u2"},
                                 {"assistant", "prefill"}});
  EXPECT_EQ(c.chatInput, "u2");
  EXPECT_TRUE(
      (c.previous ==
       Turns{{"system", "s"}, {"user", "u1"}, {"assistant", "a1"}, {"assistant", "prefill"}}));
}

TEST(Conversation, WithoutAUserTurnChatInputIsHi) {
  auto c = qodo::toConversation({{"system", "s"}, {"assistant", "a"}});
  EXPECT_EQ(c.chatInput, "hi!");
  EXPECT_TRUE((c.previous == Turns{{"system", "s"}, {"assistant", "a"}}));
}

TEST(Conversation, ToolResultsBecomeLabelledUserTurns) {
  auto c = qodo::toConversation({{"user", "weather?"}, {"tool", "{\"temp\":21}"}});
  EXPECT_EQ(c.chatInput, "Tool result:\n{\"temp\":21}");
  EXPECT_TRUE((c.previous == Turns{{"user", "weather?"}}));
}

TEST(Conversation, AnEarlierToolResultStaysInHistory) {
  auto c = qodo::toConversation({{"tool", "42"}, {"user", "and now?"}});
  EXPECT_EQ(c.chatInput, "and now?");
  EXPECT_TRUE((c.previous == Turns{{"user", "Tool result:\n42"}}));
}

}  // namespace
