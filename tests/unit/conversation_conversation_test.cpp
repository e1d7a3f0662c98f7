#include "conversation/conversation.h"

#include <gtest/gtest.h>

namespace {

using conversation::Message;
using conversation::Role;

TEST(ConversationMessage, TextJoinsTextPartsAndToolResultsWithNewlinesAndSkipsTheRest) {
  Message m;
  m.role = Role::kUser;
  m.parts.emplace_back(conversation::Text{"one"});
  m.parts.emplace_back(conversation::Image{"data:image/png;base64,AAAA"});
  m.parts.emplace_back(conversation::Text{"two"});
  m.parts.emplace_back(conversation::ToolCall{"call_1", "f", "{}"});
  m.parts.emplace_back(conversation::ToolResult{"call_1", "42", false});
  EXPECT_EQ(m.text(), "one\ntwo\n42");
}

TEST(ConversationMessage, OfTextIsOneTextPart) {
  const Message m = Message::ofText(Role::kAssistant, "hello");
  EXPECT_EQ(m.role, Role::kAssistant);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.text(), "hello");
}

TEST(ConversationMessage, TwoEmptyTextPartsAreANewline) {
  Message m;
  m.parts.emplace_back(conversation::Text{""});
  m.parts.emplace_back(conversation::Text{""});
  EXPECT_EQ(m.text(), "\n");
}

TEST(ConversationRole, NamesAreTheOnesOpenAiAndQodoUse) {
  EXPECT_EQ(conversation::roleName(Role::kSystem), "system");
  EXPECT_EQ(conversation::roleName(Role::kUser), "user");
  EXPECT_EQ(conversation::roleName(Role::kAssistant), "assistant");
  EXPECT_EQ(conversation::roleName(Role::kTool), "tool");
}

}  // namespace
