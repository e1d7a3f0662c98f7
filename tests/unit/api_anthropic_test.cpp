// The Anthropic surface (SPEC §11): the request read into the shared conversation, the answer's
// events and body, its errors, and the model aliases Anthropic clients rely on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/anthropic_request.h"
#include "api/anthropic_response.h"
#include "api/model_alias.h"

namespace {

using conversation::Event;
using conversation::EventKind;

api::ChatRequest accepted(const std::string& body, bool countOnly = false) {
  auto parsed = api::parseMessagesRequest(body, {}, countOnly);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed.request() : api::ChatRequest{};
}

api::ApiError rejected(const std::string& body) {
  auto parsed = api::parseMessagesRequest(body);
  EXPECT_FALSE(parsed.ok()) << body;
  return parsed.ok() ? api::ApiError{} : parsed.error();
}

TEST(AnthropicRequest, ReadsSystemBlocksToolsAndTheirResults) {
  auto req = accepted(R"({"model":"gpt-4o","max_tokens":1024,"stream":true,
    "system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Be kind."}],
    "thinking":{"type":"enabled","budget_tokens":2000},"stop_sequences":["END",""],
    "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"}},
             {"type":"web_search_20250305","name":"web_search"}],
    "tool_choice":{"type":"any","disable_parallel_tool_use":true},
    "messages":[
      {"role":"user","content":[{"type":"text","text":"Weather?"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
      {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},
        {"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,
        "content":[{"type":"text","text":"timeout"}]}]}]})");
  const auto& conv = req.conversation;
  ASSERT_EQ(conv.messages.size(), 4u);
  EXPECT_EQ(conv.messages[0].text(), "Be brief.\nBe kind.");
  EXPECT_EQ(conv.messages[1].parts.size(), 2u);
  EXPECT_EQ(std::get<conversation::Image>(conv.messages[1].parts[1]).dataUrl,
            "data:image/png;base64,iVBO");
  EXPECT_TRUE(req.hasImages);
  const auto& call = std::get<conversation::ToolCall>(conv.messages[2].parts[1]);
  EXPECT_EQ(call.id, "toolu_1");
  EXPECT_EQ(call.arguments, R"({"city":"Paris"})");
  const auto& result = std::get<conversation::ToolResult>(conv.messages[3].parts[0]);
  EXPECT_EQ(result.content, "timeout");
  EXPECT_TRUE(result.isError);
  ASSERT_EQ(conv.tools.size(), 1u);  // the server tool is left out
  EXPECT_EQ(conv.toolChoice.mode, conversation::ToolChoice::Mode::kRequired);
  EXPECT_FALSE(conv.parallelToolCalls);
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.thinking);
  EXPECT_EQ(req.stopSequences, std::vector<std::string>{"END"});
  EXPECT_EQ(conv.maxTokens, 1024);
}

TEST(AnthropicRequest, BadInputNamesTheField) {
  const std::string hi = R"("messages":[{"role":"user","content":"hi"}])";
  EXPECT_EQ(rejected(R"({"model":"gpt-4o",)" + hi + "}").param, "max_tokens");
  EXPECT_TRUE(accepted(R"({"model":"gpt-4o",)" + hi + "}", true).conversation.messages.size());
  EXPECT_EQ(rejected(R"({"model":"gpt-4o","max_tokens":0,)" + hi + "}").param, "max_tokens");
  EXPECT_EQ(rejected(R"({"model":"gpt-4o","max_tokens":9,"tools":[{"name":"a b",)"
                     R"("input_schema":{}}],)" + hi + "}")
                .param,
            "tools[0].name");
  EXPECT_EQ(rejected(R"({"model":"gpt-4o","max_tokens":9,"tools":[{"name":"a",)"
                     R"("input_schema":{"type":"array"}}],)" + hi + "}")
                .param,
            "tools[0].input_schema.type");
  auto err = rejected(R"({"model":"gpt-4o","max_tokens":9,"messages":[{"role":"user","content":)"
                      R"([{"type":"tool_result","tool_use_id":"toolu_x","content":"r"}]}]})");
  EXPECT_EQ(err.code, "invalid_tool_use_id");
  EXPECT_EQ(rejected(R"({"model":"gpt-4o","max_tokens":9,"messages":[{"role":"tool",)"
                     R"("content":"s"}]})")
                .param,
            "messages[0].role");
  EXPECT_EQ(rejected(R"({"model":"nope","max_tokens":9,)" + hi + "}").code, "model_not_found");
}

TEST(AnthropicRequest, ErrorsTakeAnthropicsShape) {
  auto [status, body] = api::anthropicErrorJson(api::noAccount("none left"));
  EXPECT_EQ(status, 529);
  EXPECT_EQ(body, R"({"type":"error","error":{"type":"overloaded_error","message":"none left"}})");
  EXPECT_EQ(api::anthropicErrorJson(api::badRequest("x", "model", "model_not_found")).first, 404);
  EXPECT_NE(api::anthropicErrorJson(api::invalidApiKey()).second.find("authentication_error"),
            std::string::npos);
  EXPECT_NE(api::anthropicErrorJson(api::rateLimited(5)).second.find("rate_limit_error"),
            std::string::npos);
}

// The event types of a stream, in order.
std::vector<std::string> eventTypes(const std::string& stream) {
  std::vector<std::string> out;
  for (size_t at = 0; (at = stream.find("event: ", at)) != std::string::npos;) {
    const size_t end = stream.find('\n', at);
    out.push_back(stream.substr(at + 7, end - at - 7));
    at = end;
  }
  return out;
}

api::AnthropicAnswer streaming(std::vector<std::string> stops = {}, bool thinking = false) {
  api::AnthropicOptions o;
  o.id = "msg_abc";
  o.model = "claude-sonnet-4-5";
  o.stream = true;
  o.thinking = thinking;
  o.stopSequences = std::move(stops);
  return api::AnthropicAnswer(std::move(o));
}

TEST(AnthropicAnswer, StreamsTheEventsInAnthropicsOrder) {
  auto answer = streaming({}, true);
  answer.setPromptTokens(12);
  std::string out;
  answer.onEvent(Event::of(EventKind::kReasoning, "think"), out);
  answer.onEvent(Event::of(EventKind::kText, "Hi"), out);
  Event begin = Event::of(EventKind::kToolCallBegin, "get_weather");
  answer.onEvent(begin, out);
  answer.onEvent(Event::of(EventKind::kToolCallArguments, R"({"city":"Paris"})"), out);
  answer.onEvent(Event::of(EventKind::kToolCallEnd), out);
  answer.finish(api::Answer{"Hi", "think", {12, 0}}, out);
  EXPECT_EQ(eventTypes(out),
            (std::vector<std::string>{"message_start", "ping", "content_block_start",
                                      "content_block_delta", "content_block_stop",
                                      "content_block_start", "content_block_delta",
                                      "content_block_stop", "content_block_start",
                                      "content_block_delta", "content_block_stop",
                                      "message_delta", "message_stop"}));
  EXPECT_NE(out.find(R"("usage":{"input_tokens":12,"output_tokens":0})"), std::string::npos);
  EXPECT_NE(out.find(R"({"type":"thinking","thinking":"","signature":""})"), std::string::npos);
  EXPECT_NE(out.find(R"("type":"tool_use","id":"toolu_abc_0","name":"get_weather","input":{})"),
            std::string::npos);
  EXPECT_NE(out.find(R"({"type":"input_json_delta","partial_json":"{\"city\":\"Paris\"}"})"),
            std::string::npos);
  EXPECT_NE(out.find(R"("stop_reason":"tool_use")"), std::string::npos);
}

TEST(AnthropicAnswer, ReasoningIsLeftOutWithoutThinking) {
  auto answer = streaming();
  std::string out;
  answer.onEvent(Event::of(EventKind::kReasoning, "secret"), out);
  answer.onEvent(Event::of(EventKind::kText, "Hi"), out);
  answer.finish(api::Answer{"Hi", "secret", {1, 0}}, out);
  EXPECT_EQ(out.find("secret"), std::string::npos);
  EXPECT_NE(out.find(R"("stop_reason":"end_turn")"), std::string::npos);
}

TEST(AnthropicAnswer, AStopSequenceCutsTheStreamWhereverThePiecesSplitIt) {
  const std::string text = "one two STOP three";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    auto answer = streaming({"STOP", "never"});
    std::string out;
    answer.onEvent(Event::of(EventKind::kText, text.substr(0, cut)), out);
    answer.onEvent(Event::of(EventKind::kText, text.substr(cut)), out);
    answer.finish(api::Answer{text, "", {1, 0}}, out);
    std::string shown;
    for (size_t at = 0; (at = out.find(R"("text_delta","text":")", at)) != std::string::npos;) {
      at += 21;
      shown += out.substr(at, out.find('"', at) - at);
    }
    EXPECT_EQ(shown, "one two ") << cut;
    EXPECT_NE(out.find(R"("stop_reason":"stop_sequence","stop_sequence":"STOP")"),
              std::string::npos);
  }
}

TEST(AnthropicAnswer, TheWholeMessageBody) {
  api::AnthropicOptions o;
  o.id = "msg_xyz";
  o.model = "claude-3-7-sonnet";
  o.stopSequences = {"\n\nHuman:"};
  api::AnthropicAnswer answer(std::move(o));
  std::string out;
  Event begin = Event::of(EventKind::kToolCallBegin, "f");
  answer.onEvent(begin, out);
  answer.onEvent(Event::of(EventKind::kToolCallArguments, "{}"), out);
  answer.finish(api::Answer{"hello", "", {7, 0}}, out);
  EXPECT_EQ(out,
            R"({"id":"msg_xyz","type":"message","role":"assistant","model":"claude-3-7-sonnet",)"
            R"("content":[{"type":"text","text":"hello"},{"type":"tool_use","id":"toolu_xyz_0",)"
            R"("name":"f","input":{}}],"stop_reason":"tool_use","stop_sequence":null,)"
            R"("usage":{"input_tokens":7,"output_tokens":2}})");
}

TEST(ModelAlias, GlobsAndTheClosestClaude) {
  EXPECT_TRUE(api::globMatch("claude-*", "claude-sonnet-4-5"));
  EXPECT_TRUE(api::globMatch("*haiku*", "claude-3-5-haiku-latest"));
  EXPECT_FALSE(api::globMatch("gpt-4o", "gpt-4o-mini"));
  EXPECT_TRUE(api::globMatch("a*b*c", "aXbYbc"));
  const std::vector<std::string> offered = {"gpt-4o", "claude-3-7-sonnet", "claude-3-5-sonnet",
                                            "claude-4.5-sonnet", "claude-4.1-opus"};
  EXPECT_EQ(api::closestClaude("claude-sonnet-4-5-20250929", offered), "claude-4.5-sonnet");
  EXPECT_EQ(api::closestClaude("claude-opus-4-1-20250805", offered), "claude-4.1-opus");
  EXPECT_EQ(api::closestClaude("claude-3-5-haiku-latest", offered), "claude-4.5-sonnet");
  EXPECT_EQ(api::closestClaude("claude-haiku-4-5", {}), "");
  const std::vector<config::ModelAlias> rules = {{"claude-*haiku*", "gpt-4o"}, {"*", "o1"}};
  EXPECT_EQ(api::matchAlias(rules, "claude-haiku-4-5")->model, "gpt-4o");
  EXPECT_EQ(api::matchAlias(rules, "x")->model, "o1");
}

}  // namespace
