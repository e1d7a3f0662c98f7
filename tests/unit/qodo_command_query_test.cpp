#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "qodo/command_query.h"

namespace {

namespace json = boost::json;
using conversation::Message;
using conversation::Role;

conversation::Conversation chat(std::vector<Message> messages) {
  conversation::Conversation c;
  c.model = "claude-4.5-sonnet";
  c.messages = std::move(messages);
  return c;
}

json::object frameJson(const std::string& frame) {
  const std::string prefix = "UserQuery ";
  EXPECT_EQ(frame.compare(0, prefix.size(), prefix), 0) << frame;
  EXPECT_EQ(frame.back(), '\n');
  boost::system::error_code ec;
  json::value v = json::parse(frame.substr(prefix.size()), ec);
  EXPECT_FALSE(ec) << frame;
  return ec ? json::object() : v.as_object();
}

TEST(CommandQuery, OneUserMessageIsSentAsItIsWithTheNeutralSystemPrompt) {
  const auto q = qodo::renderCommandQuery(chat({Message::ofText(Role::kUser, "Hello!")}));
  EXPECT_EQ(q.userRequest, "Hello!");
  EXPECT_EQ(q.systemPrompt, qodo::kNeutralSystemPrompt);
}

TEST(CommandQuery, SystemMessagesBecomeTheSystemPrompt) {
  const auto q = qodo::renderCommandQuery(
      chat({Message::ofText(Role::kSystem, "Be brief."),
            Message::ofText(Role::kSystem, "Use French."), Message::ofText(Role::kUser, "Hi")}));
  EXPECT_EQ(q.systemPrompt, "Be brief.\n\nUse French.");
  EXPECT_EQ(q.userRequest, "Hi");
}

TEST(CommandQuery, EarlierTurnsAreRenderedAndTheLastUserMessageIsLast) {
  const auto q = qodo::renderCommandQuery(
      chat({Message::ofText(Role::kUser, "What is 2+2?"), Message::ofText(Role::kAssistant, "4"),
            Message::ofText(Role::kUser, "And 3+3?")}));
  EXPECT_EQ(q.userRequest,
            "The conversation so far:\n\n[user]\nWhat is 2+2?\n\n[assistant]\n4\n\n"
            "The user's new message, to answer now:\n\nAnd 3+3?");
}

TEST(CommandQuery, ToolCallsAndResultsAreShownWithTheToolName) {
  Message call;
  call.role = Role::kAssistant;
  call.parts.emplace_back(conversation::ToolCall{"call_1", "get_weather", R"({"city":"Paris"})"});
  Message result;
  result.role = Role::kTool;
  result.parts.emplace_back(conversation::ToolResult{"call_1", "21 C", false});
  const auto q = qodo::renderCommandQuery(
      chat({Message::ofText(Role::kUser, "Weather in Paris?"), call, result}));
  EXPECT_EQ(q.userRequest,
            "The conversation so far:\n\n[user]\nWeather in Paris?\n\n"
            "[assistant called the tool get_weather (call call_1)]\n{\"city\":\"Paris\"}\n\n"
            "[result of the tool get_weather (call call_1)]\n21 C\n\n"
            "Continue from the last turn above.");
}

TEST(CommandQuery, TheFrameHasTheFieldsTheCliSendsAndNothingOfThisMachine) {
  auto c = chat({Message::ofText(Role::kUser, "Hi")});
  Message withImage;
  withImage.role = Role::kUser;
  withImage.parts.emplace_back(conversation::Text{"Look"});
  withImage.parts.emplace_back(conversation::Image{"data:image/png;base64,iVBORw0KGgo="});
  c.messages.push_back(withImage);
  c.tools.push_back({"get_weather", "Weather of a city",
                     R"({"type":"object","properties":{"city":{"type":"string"}}})"});
  json::object f = frameJson(qodo::userQueryFrame(c, "claude-4.5-sonnet", "20251201-abc"));
  EXPECT_EQ(f["agent_type"], "cli");
  EXPECT_EQ(f["session_id"], "20251201-abc");
  EXPECT_EQ(f["custom_model"], "claude-4.5-sonnet");
  EXPECT_EQ(f["user_data"].as_object()["editor_type"], "cli");
  EXPECT_EQ(f["projects_root_path"], json::array());
  EXPECT_FALSE(f.contains("cwd"));
  EXPECT_FALSE(f.contains("qodomd"));
  EXPECT_EQ(f["images"], (json::array{"data:image/png;base64,iVBORw0KGgo="}));
  const json::array& tools = f["tools"].as_object()[qodo::kClientToolServer].as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].as_object().at("name"), "get_weather");
  EXPECT_EQ(tools[0].as_object().at("inputSchema").as_object().at("type"), "object");
  EXPECT_TRUE(f["user_request"].as_string().ends_with("Look"));
}

TEST(CommandQuery, ToolChoiceNoneDeclaresNoToolAndANamedChoiceOnlyThatOne) {
  auto c = chat({Message::ofText(Role::kUser, "Hi")});
  c.tools.push_back({"a", "", ""});
  c.tools.push_back({"b", "", ""});
  c.toolChoice.mode = conversation::ToolChoice::Mode::kNone;
  EXPECT_EQ(frameJson(qodo::userQueryFrame(c, "m", "s"))["tools"], json::object());
  c.toolChoice.mode = conversation::ToolChoice::Mode::kNamed;
  c.toolChoice.name = "b";
  json::object named = frameJson(qodo::userQueryFrame(c, "m", "s"));
  const json::array& tools = named["tools"].as_object()["client"].as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].as_object().at("name"), "b");
}

}  // namespace
