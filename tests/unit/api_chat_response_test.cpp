#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <random>

#include "api/chat_response.h"

namespace {

namespace json = boost::json;

// Splits SSE text into the JSON payloads of its `data: …\n\n` events.
std::vector<std::string> events(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    EXPECT_EQ(sse.compare(pos, 6, "data: "), 0) << sse.substr(pos);
    const size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    out.push_back(sse.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

json::object parseObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << text;
  return ec || !v.is_object() ? json::object() : v.get_object();
}

std::vector<std::string> keys(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

using Keys = std::vector<std::string>;

// The fields every chunk repeats, in OpenAI's order.
json::object checkedChunk(const std::string& event) {
  json::object chunk = parseObject(event);
  EXPECT_EQ(chunk["id"], "chatcmpl-abc");
  EXPECT_EQ(chunk["object"], "chat.completion.chunk");
  EXPECT_EQ(chunk["created"], 1745000000);
  EXPECT_EQ(chunk["model"], "deepseek-r1");
  return chunk;
}

json::object onlyChoice(json::object& chunk) {
  EXPECT_EQ(keys(chunk), (Keys{"id", "object", "created", "model", "choices"}));
  json::array& choices = chunk["choices"].as_array();
  EXPECT_EQ(choices.size(), 1u);
  json::object choice = choices.at(0).as_object();
  EXPECT_EQ(keys(choice), (Keys{"index", "delta", "finish_reason"}));
  EXPECT_EQ(choice["index"], 0);
  return choice;
}

class ChunkEncoderTest : public ::testing::Test {
 protected:
  api::ChunkEncoder encoder_{"chatcmpl-abc", 1745000000, "deepseek-r1"};
  std::string out_;
};

TEST_F(ChunkEncoderTest, FirstChunkAnnouncesTheAssistantRole) {
  encoder_.appendRole(out_);
  auto ev = events(out_);
  ASSERT_EQ(ev.size(), 1u);
  json::object chunk = checkedChunk(ev[0]);
  json::object choice = onlyChoice(chunk);
  EXPECT_EQ(choice["delta"], (json::object{{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(choice["finish_reason"].is_null());
}

TEST_F(ChunkEncoderTest, ContentChunkCarriesTheTextEscaped) {
  encoder_.appendContent(out_, "line \"one\"\n中文\x01");
  auto ev = events(out_);
  ASSERT_EQ(ev.size(), 1u);
  json::object chunk = checkedChunk(ev[0]);
  json::object choice = onlyChoice(chunk);
  EXPECT_EQ(choice["delta"], (json::object{{"content", "line \"one\"\n中文\x01"}}));
  EXPECT_TRUE(choice["finish_reason"].is_null());
}

TEST_F(ChunkEncoderTest, ReasoningChunkUsesReasoningContent) {
  encoder_.appendReasoning(out_, "let me think");
  json::object chunk = checkedChunk(events(out_).at(0));
  json::object choice = onlyChoice(chunk);
  EXPECT_EQ(choice["delta"], (json::object{{"reasoning_content", "let me think"}}));
}

TEST_F(ChunkEncoderTest, StopChunkHasAnEmptyDeltaAndFinishReasonStop) {
  encoder_.appendStop(out_);
  json::object chunk = checkedChunk(events(out_).at(0));
  json::object choice = onlyChoice(chunk);
  EXPECT_EQ(choice["delta"], json::object());
  EXPECT_EQ(choice["finish_reason"], "stop");
}

TEST_F(ChunkEncoderTest, UsageChunkHasNoChoicesAndTheTotals) {
  encoder_.appendUsage(out_, {12, 30});
  json::object chunk = checkedChunk(events(out_).at(0));
  EXPECT_EQ(keys(chunk), (Keys{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(chunk["choices"], json::array());
  json::object usage = chunk["usage"].as_object();
  EXPECT_EQ(keys(usage), (Keys{"prompt_tokens", "completion_tokens", "total_tokens"}));
  EXPECT_EQ(usage["prompt_tokens"], 12);
  EXPECT_EQ(usage["completion_tokens"], 30);
  EXPECT_EQ(usage["total_tokens"], 42);
}

TEST_F(ChunkEncoderTest, ErrorEventHoldsTheOpenAiErrorObject) {
  api::ChunkEncoder::appendError(out_, api::badGateway("backend went away \xFF"));
  json::object body = parseObject(events(out_).at(0));
  EXPECT_EQ(keys(body), (Keys{"error"}));
  json::object err = body["error"].as_object();
  EXPECT_EQ(keys(err), (Keys{"message", "type", "param", "code"}));
  EXPECT_EQ(err["message"], "backend went away \xEF\xBF\xBD");
  EXPECT_EQ(err["type"], "upstream_error");
  EXPECT_TRUE(err["param"].is_null());
  EXPECT_EQ(err["code"], "bad_gateway");
}

TEST_F(ChunkEncoderTest, DoneIsTheLiteralSentinel) {
  api::ChunkEncoder::appendDone(out_);
  EXPECT_EQ(out_, "data: [DONE]\n\n");
}

TEST_F(ChunkEncoderTest, EventsAppendOneAfterAnother) {
  encoder_.appendRole(out_);
  encoder_.appendContent(out_, "a");
  encoder_.appendStop(out_);
  api::ChunkEncoder::appendDone(out_);
  auto ev = events(out_);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[3], "[DONE]");
}

TEST(CompletionJson, HoldsTheWholeAnswerAndUsage) {
  json::object body = parseObject(
      api::completionJson("chatcmpl-x", 1700000000, "gpt-4o", "Hello!", std::nullopt, {5, 2}));
  EXPECT_EQ(keys(body), (Keys{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(body["id"], "chatcmpl-x");
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["created"], 1700000000);
  EXPECT_EQ(body["model"], "gpt-4o");
  json::array choices = body["choices"].as_array();
  ASSERT_EQ(choices.size(), 1u);
  json::object choice = choices[0].as_object();
  EXPECT_EQ(keys(choice), (Keys{"index", "message", "finish_reason"}));
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"], (json::object{{"role", "assistant"}, {"content", "Hello!"}}));
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(body["usage"],
            (json::object{{"prompt_tokens", 5}, {"completion_tokens", 2}, {"total_tokens", 7}}));
}

TEST(CompletionJson, AddsReasoningContentWhenGiven) {
  json::object body = parseObject(
      api::completionJson("chatcmpl-x", 1, "deepseek-r1", "42", std::string_view("hmm"), {1, 1}));
  json::object message = body["choices"].as_array()[0].as_object()["message"].as_object();
  EXPECT_EQ(keys(message), (Keys{"role", "content", "reasoning_content"}));
  EXPECT_EQ(message["content"], "42");
  EXPECT_EQ(message["reasoning_content"], "hmm");
}

TEST(CompletionId, IsChatcmplAndTwentyNineAlphanumerics) {
  std::mt19937_64 rng(7);
  const std::string id = api::newCompletionId(rng);
  ASSERT_EQ(id.size(), 9u + 29u);
  EXPECT_EQ(id.substr(0, 9), "chatcmpl-");
  for (char c : id.substr(9)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
}

TEST(CompletionId, DiffersFromCallToCallAndRepeatsForTheSameSeed) {
  std::mt19937_64 a(1);
  std::mt19937_64 b(1);
  const std::string first = api::newCompletionId(a);
  EXPECT_NE(first, api::newCompletionId(a));
  EXPECT_EQ(first, api::newCompletionId(b));
}

// ---- OpenAiAnswer: the events of one answer as the OpenAI surface shows them ------------------

conversation::Event ev(conversation::EventKind kind, std::string_view text = {}) {
  return conversation::Event::of(kind, text);
}

TEST(OpenAiAnswer, StreamsTheRoleFirstThenEachPieceThenStopUsageAndDone) {
  api::OpenAiAnswer answer("chatcmpl-x", 7, "deepseek-r1", true, true);
  std::string out;
  answer.onEvent(ev(conversation::EventKind::kReasoning, "hmm"), out);
  answer.onEvent(ev(conversation::EventKind::kText, "yes"), out);
  answer.finish(api::Answer{"yes", "hmm", {5, 2}}, out);
  const auto payloads = events(out);
  ASSERT_EQ(payloads.size(), 6u) << out;
  EXPECT_EQ(parseObject(payloads[0])["choices"].as_array()[0].as_object()["delta"],
            (json::object{{"role", "assistant"}, {"content", ""}}));
  EXPECT_EQ(parseObject(payloads[1])["choices"].as_array()[0].as_object()["delta"],
            (json::object{{"reasoning_content", "hmm"}}));
  EXPECT_EQ(parseObject(payloads[2])["choices"].as_array()[0].as_object()["delta"],
            (json::object{{"content", "yes"}}));
  EXPECT_EQ(parseObject(payloads[3])["choices"].as_array()[0].as_object()["finish_reason"], "stop");
  EXPECT_EQ(parseObject(payloads[4])["usage"].as_object()["total_tokens"], 7);
  EXPECT_EQ(payloads[5], "[DONE]");
}

TEST(OpenAiAnswer, WithoutIncludeUsageThereIsNoUsageChunk) {
  api::OpenAiAnswer answer("chatcmpl-x", 7, "gpt-4o", true, false);
  std::string out;
  answer.onEvent(ev(conversation::EventKind::kText, "a"), out);
  answer.finish(api::Answer{"a", "", {1, 1}}, out);
  EXPECT_EQ(events(out).size(), 4u) << out;
}

TEST(OpenAiAnswer, AWholeAnswerIsOneCompletionBodyAtTheEnd) {
  api::OpenAiAnswer answer("chatcmpl-x", 7, "gpt-4o", false, false);
  std::string out;
  answer.onEvent(ev(conversation::EventKind::kText, "a"), out);
  EXPECT_TRUE(out.empty());
  answer.finish(api::Answer{"all of it", "", {3, 4}}, out);
  json::object body = parseObject(out);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"].as_array()[0].as_object()["message"],
            (json::object{{"role", "assistant"}, {"content", "all of it"}}));
  EXPECT_EQ(body["usage"].as_object()["completion_tokens"], 4);
}

TEST(OpenAiAnswer, AFailureAfterTheStartIsAnErrorEventAndDone) {
  api::OpenAiAnswer answer("chatcmpl-x", 7, "gpt-4o", true, false);
  std::string out;
  answer.onEvent(ev(conversation::EventKind::kText, "a"), out);
  out.clear();
  answer.fail(api::gatewayTimeout("slow"), out);
  const auto payloads = events(out);
  ASSERT_EQ(payloads.size(), 2u);
  EXPECT_EQ(parseObject(payloads[0])["error"].as_object()["message"], "slow");
  EXPECT_EQ(payloads[1], "[DONE]");
}

}  // namespace

namespace {

conversation::Event toolEvent(conversation::EventKind kind, size_t index, std::string_view text) {
  auto e = conversation::Event::of(kind, text);
  e.index = index;
  return e;
}

TEST(OpenAiAnswerTools, AStreamedCallIsItsStartThenArgumentPiecesThenFinishReasonToolCalls) {
  using conversation::EventKind;
  api::OpenAiAnswer answer("chatcmpl-abc", 1745000000, "deepseek-r1", true, false);
  std::string out;
  answer.onEvent(toolEvent(EventKind::kToolCallBegin, 0, "get_weather"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallArguments, 0, R"({"city":)"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallArguments, 0, R"("Paris"})"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallEnd, 0, ""), out);
  answer.finish(api::Answer{"", "", {1, 2}}, out);
  const auto e = events(out);
  ASSERT_EQ(e.size(), 6u) << out;  // role, start, 2 pieces, stop, [DONE]
  auto start = checkedChunk(e[1]);
  auto choice = onlyChoice(start);
  const auto& call = choice["delta"].as_object().at("tool_calls").as_array().at(0).as_object();
  EXPECT_EQ(keys(call), (Keys{"index", "id", "type", "function"}));
  EXPECT_EQ(call.at("id"), "call_abc_0");
  EXPECT_EQ(call.at("type"), "function");
  EXPECT_EQ(call.at("function").at("name"), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments"), "");
  auto piece = checkedChunk(e[2]);
  auto pieceChoice = onlyChoice(piece);
  const auto& p = pieceChoice["delta"].as_object().at("tool_calls").as_array().at(0).as_object();
  EXPECT_EQ(keys(p), (Keys{"index", "function"}));
  EXPECT_EQ(p.at("function").at("arguments"), R"({"city":)");
  auto stop = checkedChunk(e[4]);
  EXPECT_EQ(onlyChoice(stop)["finish_reason"], "tool_calls");
  EXPECT_EQ(e[5], "[DONE]");
}

TEST(OpenAiAnswerTools, AWholeAnswerListsItsCallsWithContentNullWhenThereIsNoText) {
  using conversation::EventKind;
  api::OpenAiAnswer answer("chatcmpl-xyz", 1745000000, "gpt-5", false, false);
  std::string out;
  answer.onEvent(toolEvent(EventKind::kToolCallBegin, 0, "a"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallArguments, 0, "{}"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallBegin, 1, "b"), out);
  answer.onEvent(toolEvent(EventKind::kToolCallArguments, 1, R"({"x":1})"), out);
  EXPECT_TRUE(out.empty()) << "nothing before the end of a whole answer";
  answer.finish(api::Answer{"", "", {1, 2}}, out);
  auto body = parseObject(out);
  auto& choice = body["choices"].as_array().at(0).as_object();
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  const auto& message = choice["message"].as_object();
  EXPECT_TRUE(message.at("content").is_null());
  const auto& calls = message.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].at("id"), "call_xyz_1");
  EXPECT_EQ(calls[1].at("function").at("name"), "b");
  EXPECT_EQ(calls[1].at("function").at("arguments"), R"({"x":1})");
}

}  // namespace
