#include <gtest/gtest.h>

#include "api/chat_request.h"
#include "api/request_fields.h"

namespace {

using api::parseChatRequest;

std::string body(std::string_view messages, std::string_view extra = "") {
  std::string out = R"({"model":"gpt-4o","messages":)";
  out += messages;
  out += extra;
  out += '}';
  return out;
}

// The 400 a body earns; fails the test when it parses.
api::ApiError rejected(const std::string& text) {
  auto parsed = parseChatRequest(text);
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error().status, 400) << parsed.error().message;
  EXPECT_EQ(parsed.error().type, "invalid_request_error");
  return parsed.error();
}

api::ChatRequest accepted(const std::string& text) {
  auto parsed = parseChatRequest(text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed.request() : api::ChatRequest{};
}

TEST(ChatRequest, ParsesAMinimalRequestWithDefaults) {
  auto req = accepted(body(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(req.conversation.model, "gpt-4o");
  ASSERT_NE(req.modelInfo, nullptr);
  EXPECT_EQ(req.modelInfo->backend, "gpt-4o");
  ASSERT_EQ(req.conversation.messages.size(), 1u);
  EXPECT_EQ(conversation::roleName(req.conversation.messages[0].role), "user");
  EXPECT_EQ(req.conversation.messages[0].text(), "hi");
  EXPECT_FALSE(req.stream);
  EXPECT_FALSE(req.includeUsage);
  EXPECT_FALSE(req.conversation.maxTokens);
}

TEST(ChatRequest, ReadsStreamIncludeUsageAndMaxTokens) {
  auto req = accepted(body(R"([{"role":"user","content":"hi"}])",
                           R"(,"stream":true,"stream_options":{"include_usage":true},)"
                           R"("max_tokens":100000,"temperature":0.2,"unknown":{"x":[1]})"));
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.includeUsage);
  EXPECT_EQ(req.conversation.maxTokens, 100000);
}

TEST(ChatRequest, MaxCompletionTokensIsReadToo) {
  auto req =
      accepted(body(R"([{"role":"user","content":"hi"}])", R"(,"max_completion_tokens":50)"));
  EXPECT_EQ(req.conversation.maxTokens, 50);
}

TEST(ChatRequest, NullOptionalFieldsMeanAbsent) {
  auto req = accepted(body(R"([{"role":"user","content":"hi"}])",
                           R"(,"stream":null,"stream_options":null,"max_tokens":null)"));
  EXPECT_FALSE(req.stream);
  EXPECT_FALSE(req.conversation.maxTokens);
}

TEST(ChatRequest, KeepsRolesAndOrder) {
  auto req = accepted(body(R"([{"role":"system","content":"s"},{"role":"user","content":"u"},)"
                           R"({"role":"assistant","content":"a","tool_calls":[{"id":"c1","type":"function",)"
                           R"("function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"t",)"
                           R"("tool_call_id":"c1"},{"role":"developer","content":"d"}])"));
  ASSERT_EQ(req.conversation.messages.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"tool", "t"}, {"system", "d"}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(conversation::roleName(req.conversation.messages[i].role), want[i].first);
    EXPECT_EQ(req.conversation.messages[i].text(), want[i].second);
  }
  const auto& result = std::get<conversation::ToolResult>(req.conversation.messages[3].parts.at(0));
  EXPECT_EQ(result.callId, "c1");
  EXPECT_EQ(result.content, "t");
}

TEST(ChatRequest, JoinsTextPartsWithNewlines) {
  auto req = accepted(body(R"([{"role":"user","content":[{"type":"text","text":"one"},)"
                           R"({"type":"text","text":"two"}]}])"));
  ASSERT_EQ(req.conversation.messages.size(), 1u);
  EXPECT_EQ(req.conversation.messages[0].text(), "one\ntwo");
}

TEST(ChatRequest, DropsMessagesWithEmptyOrNullContent) {
  auto req = accepted(body(R"([{"role":"system","content":""},{"role":"user","content":"q"},)"
                           R"({"role":"assistant","content":null,"tool_calls":[]},)"
                           R"({"role":"assistant"},{"role":"user","content":[]}])"));
  ASSERT_EQ(req.conversation.messages.size(), 1u);
  EXPECT_EQ(req.conversation.messages[0].text(), "q");
}

TEST(ChatRequest, TakesADataUrlImageAsAnImagePartOfTheUserMessage) {
  auto req = accepted(body(R"([{"role":"user","content":[{"type":"text","text":"look"},)"
                           R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}])"));
  EXPECT_TRUE(req.hasImages);
  ASSERT_EQ(req.conversation.messages.size(), 1u);
  const auto& parts = req.conversation.messages[0].parts;
  ASSERT_EQ(parts.size(), 2u);
  const auto* image = std::get_if<conversation::Image>(&parts[1]);
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->dataUrl, "data:image/png;base64,AAAA");
  EXPECT_EQ(req.conversation.messages[0].text(), "look");
}

TEST(ChatRequest, AnImageAloneIsNotAnEmptyMessage) {
  auto req = accepted(body(
      R"([{"role":"user","content":[{"type":"image_url","image_url":"data:image/jpeg;base64,AA"}]}])"));
  EXPECT_TRUE(req.hasImages);
  EXPECT_EQ(req.conversation.messages.size(), 1u);
}

TEST(ChatRequest, AnImageByHttpUrlIsA400AskingForADataUrl) {
  auto err = rejected(body(R"([{"role":"user","content":[{"type":"text","text":"look"},)"
                           R"({"type":"image_url","image_url":{"url":"https://x.test/a.png"}}]}])"));
  EXPECT_NE(err.message.find("data URL"), std::string::npos) << err.message;
  EXPECT_EQ(err.param, "messages[0].content[1].image_url.url");
  EXPECT_EQ(err.code, "image_url_not_supported");
}

TEST(ChatRequest, AnImageUrlThatIsNoImageDataUrlIsA400) {
  auto err = rejected(body(R"([{"role":"user","content":[{"type":"text","text":"look"},)"
                           R"({"type":"image_url","image_url":{"url":"data:x"}}]}])"));
  EXPECT_NE(err.message.find("data URL"), std::string::npos) << err.message;
  EXPECT_EQ(err.param, "messages[0].content[1].image_url.url");
}

TEST(ChatRequest, OnlyUserMessagesCarryImages) {
  auto err = rejected(body(R"([{"role":"system","content":[{"type":"image_url",)"
                           R"("image_url":{"url":"data:image/png;base64,AAAA"}}]},)"
                           R"({"role":"user","content":"hi"}])"));
  EXPECT_EQ(err.param, "messages[0].content");
}

TEST(ChatRequest, AModelOutsideTheSeedTableIsLookedUpInTheLiveLists) {
  const std::string text = R"({"model":"claude-4.5-sonnet","messages":[{"role":"user","content":"hi"}]})";
  EXPECT_EQ(rejected(text).code, "model_not_found");
  auto parsed = parseChatRequest(text, [](std::string_view id) {
    return id == "claude-4.5-sonnet" ? api::liveModel(id) : api::findModel(id);
  });
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed.request().seedModel);
  EXPECT_EQ(parsed.request().modelInfo->backend, "claude-4.5-sonnet");
  EXPECT_TRUE(accepted(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})").seedModel);
}

TEST(ChatRequest, RejectsOtherNonTextParts) {
  auto err = rejected(body(R"([{"role":"user","content":[{"type":"input_audio"}]}])"));
  EXPECT_EQ(err.param, "messages[0].content[0]");
  EXPECT_NE(err.message.find("input_audio"), std::string::npos);
}

TEST(ChatRequest, RejectsMalformedJson) {
  auto err = rejected(R"({"model":"gpt-4o","messages":[)");
  EXPECT_NE(err.message.find("JSON"), std::string::npos);
  EXPECT_FALSE(err.param);
  rejected("");
  rejected("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"\xFF\"}]}");
}

TEST(ChatRequest, RejectsANonObjectBody) {
  EXPECT_NE(rejected("[1,2]").message.find("object"), std::string::npos);
  rejected("\"text\"");
  rejected("null");
}

TEST(ChatRequest, RejectsNestingDeeperThanSixtyFourLevels) {
  std::string deep = body(R"([{"role":"user","content":"hi"}])",
                          R"(,"x":)" + std::string(70, '[') + std::string(70, ']'));
  auto err = rejected(deep);
  EXPECT_NE(err.message.find("64"), std::string::npos) << err.message;
}

TEST(ChatRequest, AcceptsNestingUpToTheLimit) {
  accepted(body(R"([{"role":"user","content":"hi"}])",
                R"(,"x":)" + std::string(60, '[') + std::string(60, ']')));
}

TEST(ChatRequest, MissingOrEmptyMessagesNameTheParam) {
  EXPECT_EQ(rejected(R"({"model":"gpt-4o"})").param, "messages");
  EXPECT_EQ(rejected(body("[]")).param, "messages");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":""}])")).param, "messages");
  EXPECT_EQ(rejected(body(R"({"role":"user"})")).param, "messages");
}

TEST(ChatRequest, RejectsMoreThanTenThousandMessages) {
  std::string many = "[";
  for (int i = 0; i < 10001; ++i)
    many += std::string(i ? "," : "") + R"({"role":"user","content":"x"})";
  many += "]";
  auto err = rejected(body(many));
  EXPECT_EQ(err.param, "messages");
  EXPECT_NE(err.message.find("10000"), std::string::npos);
}

TEST(ChatRequest, AcceptsExactlyTenThousandMessages) {
  std::string many = "[";
  for (int i = 0; i < 10000; ++i)
    many += std::string(i ? "," : "") + R"({"role":"user","content":"x"})";
  many += "]";
  EXPECT_EQ(accepted(body(many)).conversation.messages.size(), 10000u);
}

TEST(ChatRequest, UnknownModelIsModelNotFound) {
  auto err = rejected(R"({"model":"gpt-5","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(err.code, "model_not_found");
  EXPECT_EQ(err.param, "model");
  EXPECT_NE(err.message.find("gpt-5"), std::string::npos);
}

TEST(ChatRequest, MissingModelNamesTheParam) {
  EXPECT_EQ(rejected(R"({"messages":[{"role":"user","content":"hi"}]})").param, "model");
}

TEST(ChatRequest, MaxTokensAboveTheLimitNamesWhichParam) {
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":"hi"}])", R"(,"max_tokens":100001)")).param,
            "max_tokens");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":"hi"}])",
                          R"(,"max_completion_tokens":18446744073709551615)"))
                .param,
            "max_completion_tokens");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":"hi"}])", R"(,"max_tokens":1e9)")).param,
            "max_tokens");
}

TEST(ChatRequest, MaxTokensBelowOneIsRejected) {
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":"hi"}])", R"(,"max_tokens":0)")).param,
            "max_tokens");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":"hi"}])", R"(,"max_tokens":-5)")).param,
            "max_tokens");
}

TEST(ChatRequest, WrongTypesNameTheParam) {
  const std::string hi = R"([{"role":"user","content":"hi"}])";
  EXPECT_EQ(rejected(R"({"model":4,"messages":[]})").param, "model");
  EXPECT_EQ(rejected(body(hi, R"(,"stream":"yes")")).param, "stream");
  EXPECT_EQ(rejected(body(hi, R"(,"stream_options":true)")).param, "stream_options");
  EXPECT_EQ(rejected(body(hi, R"(,"stream_options":{"include_usage":1})")).param,
            "stream_options.include_usage");
  EXPECT_EQ(rejected(body(hi, R"(,"max_tokens":"10")")).param, "max_tokens");
  EXPECT_EQ(rejected(body(hi, R"(,"max_tokens":10.5)")).param, "max_tokens");
  EXPECT_EQ(rejected(body(R"(["hi"])")).param, "messages[0]");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":5}])")).param, "messages[0].content");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":["x"]}])")).param, "messages[0].content[0]");
  EXPECT_EQ(rejected(body(R"([{"role":"user","content":[{"type":"text","text":3}]}])")).param,
            "messages[0].content[0].text");
  EXPECT_EQ(rejected(body(R"([{"role":7,"content":"x"}])")).param, "messages[0].role");
  auto err = rejected(body(hi, R"(,"stream":"yes")"));
  EXPECT_NE(err.message.find("boolean"), std::string::npos) << err.message;
}

TEST(ChatRequest, RejectsUnknownAndMissingRoles) {
  auto err = rejected(body(R"([{"role":"user","content":"a"},{"role":"function","content":"x"}])"));
  EXPECT_EQ(err.param, "messages[1].role");
  EXPECT_NE(err.message.find("function"), std::string::npos);
  EXPECT_EQ(rejected(body(R"([{"content":"x"}])")).param, "messages[0].role");
}

}  // namespace

TEST(ChatRequestTools, ToolsToolChoiceAndAssistantCallsAreRead) {
  auto req = accepted(body(
      R"([{"role":"user","content":"weather?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":""}])",
      R"(,"tools":[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object"}}}],)"
      R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false)"));
  const auto& c = req.conversation;
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].parameters, R"({"type":"object"})");
  EXPECT_EQ(c.toolChoice.mode, conversation::ToolChoice::Mode::kNamed);
  EXPECT_FALSE(c.parallelToolCalls);
  ASSERT_EQ(c.messages.size(), 3u) << "a call-only assistant turn and an empty result are kept";
  const auto* call = std::get_if<conversation::ToolCall>(&c.messages[1].parts.at(0));
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->arguments, R"({"city":"Paris"})");
  EXPECT_NE(std::get_if<conversation::ToolResult>(&c.messages[2].parts.at(0)), nullptr);
}

TEST(ChatRequestTools, BadToolsAreA400NamingTheField) {
  const std::string hi = R"([{"role":"user","content":"hi"}])";
  EXPECT_EQ(rejected(body(hi, R"(,"tools":[{"type":"function","function":{"name":"bad name"}}])")).param,
            "tools[0].function.name");
  EXPECT_EQ(rejected(body(hi, R"(,"tools":[{"type":"retrieval"}])")).param, "tools[0].type");
  EXPECT_EQ(rejected(body(hi, R"(,"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"sometimes")")).param,
            "tool_choice");
  EXPECT_EQ(rejected(body(hi, R"(,"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}})")).param,
            "tool_choice.function.name");
  EXPECT_EQ(rejected(body(hi, R"(,"tool_choice":"required")")).param, "tool_choice");
  EXPECT_EQ(rejected(body(hi, R"(,"tools":[{"type":"function","function":{"name":"a","parameters":"x"}}])")).param,
            "tools[0].function.parameters");
}

TEST(ChatRequest, AToolResultMustAnswerAnEarlierCall) {
  auto err = rejected(body(R"([{"role":"user","content":"u"},{"role":"tool","content":"t",)"
                           R"("tool_call_id":"nobody"}])"));
  EXPECT_EQ(err.status, 400);
  EXPECT_EQ(err.code, "invalid_tool_call_id");
  EXPECT_NE(err.message.find("nobody"), std::string::npos);
}

TEST(ChatRequest, ToolSchemasAreCheckedAndBounded) {
  const std::string messages = R"([{"role":"user","content":"u"}])";
  auto err = rejected(body(messages, R"(,"tools":[{"type":"function","function":{"name":"f",)"
                                     R"("parameters":{"type":"string"}}}])"));
  EXPECT_EQ(err.param, "tools[0].function.parameters.type");
  err = rejected(body(messages, R"(,"tools":[{"type":"function","function":{"name":"f g"}}])"));
  EXPECT_EQ(err.param, "tools[0].function.name");
  std::string many = R"(,"tools":[)";
  for (size_t i = 0; i <= api::kMaxTools; ++i)
    many += (i ? "," : "") + std::string(R"({"type":"function","function":{"name":"f)") +
            std::to_string(i) + R"("}})";
  many += "]";
  err = rejected(body(messages, many));
  EXPECT_EQ(err.code, "too_many_tools");
  // A thousand tools with a kilobyte of description each are taken.
  std::string thousand = R"(,"tools":[)";
  const std::string description(1000, 'd');
  for (size_t i = 0; i < 1000; ++i)
    thousand += (i ? "," : "") + std::string(R"({"type":"function","function":{"name":"f)") +
                std::to_string(i) + R"(","description":")" + description + R"("}})";
  thousand += "]";
  EXPECT_EQ(accepted(body(messages, thousand)).conversation.tools.size(), 1000u);
}
