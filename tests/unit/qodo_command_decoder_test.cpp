#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <optional>

#include "event_recorder.h"
#include "qodo/command_decoder.h"

namespace {

using conversation::EventKind;
using conversation::Failure;

using testing_events::failure;
using testing_events::Recorder;

std::string said(const std::string& id, const std::string& content) {
  return R"({"session_id":"S","data":{"tool":"UserResponse","identifier":")" + id +
         R"(","tool_args":{"content":")" + content + R"("}}})";
}
const std::string kEndNode = R"({"session_id":"S","data":{"tool":"EndNode"}})";
const std::string kReady =
    R"({"session_id":"S","data":{"tool":"Ready","tool_args":{"checkpoint_id":"c"}}})";

TEST(CommandDecoder, UserResponsesAreTextAndANewIdentifierIsANewParagraph) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  for (const auto& f : {said("u1", "Let me "), said("u1", "see."), said("u2", "Done."), kEndNode})
    EXPECT_TRUE(d.feed(f, r));
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:Let me ", "text:see.", "text:\n\n",
                                              "text:Done.", "end"}));
  EXPECT_TRUE(d.ended());
  EXPECT_TRUE(d.feed(kReady, r));  // after the end: nothing more
  EXPECT_EQ(r.seen.size(), 5u);
}

TEST(CommandDecoder, ThinkTagsAreReasoning) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  d.feed(said("u1", "<think>hmm</think>"), r);
  d.feed(said("u1", "yes"), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"reasoning:hmm", "text:yes", "end"}));
}

TEST(CommandDecoder, RetryStatusAndProgressAreNotText) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  d.feed(
      R"({"session_id":"S","data":{"tool":"UserResponse","identifier":"u","tool_args":{"content":"retrying","type":"retry_status"}}})",
      r);
  d.feed(
      R"({"session_id":"S","data":{"tool":"UserResponse","type":"progress","tool_args":{"raw":{}}}})",
      r);
  d.feed(said("u", "ok"), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:ok", "end"}));
}

TEST(CommandDecoder, AClientToolCallIsShownWithoutItsReasoningAndReadyEndsTheAnswer) {
  qodo::CommandDecoder d({"get_weather"}, false);
  Recorder r;
  d.feed(said("u1", "Checking."), r);
  d.feed(
      R"({"session_id":"S","data":{"tool":"get_weather","server_name":"client","identifier":"call-7","tool_args":{"city":"Paris","tool_reasoning":"needed"}}})",
      r);
  d.feed(kReady, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:Checking.", "call0:call-7:get_weather",
                                              R"(args0:{"city":"Paris"})", "end-call0", "end"}));
  EXPECT_TRUE(d.takeOutgoing().empty());
}

TEST(CommandDecoder, AToolTheServerRanOrOwnsIsNotShown) {
  qodo::CommandDecoder d({"read"}, false);
  Recorder r;
  d.feed(
      R"({"session_id":"S","data":{"tool":"read","server_name":"client","identifier":"c1","tool_args":{},"tool_result":{"isError":false,"content":[]}}})",
      r);
  d.feed(
      R"({"session_id":"S","data":{"tool":"search","server_name":"web","identifier":"c2","tool_args":{}}})",
      r);
  d.feed(said("u", "ok"), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:ok", "end"}));
}

TEST(CommandDecoder, AnUndeclaredToolIsAnsweredWithAnErrorResultAtTheNextReady) {
  qodo::CommandDecoder d({"get_weather"}, false);
  Recorder r;
  d.feed(
      R"({"session_id":"S","data":{"tool":"rm_rf","server_name":"client","identifier":"c9","tool_args":{"path":"/"}}})",
      r);
  EXPECT_TRUE(d.takeOutgoing().empty());
  d.feed(kReady, r);
  const std::string reply = d.takeOutgoing();
  EXPECT_TRUE(reply.starts_with("IDERetrievalAnswer {")) << reply;
  EXPECT_NE(reply.find(R"("tool_id":"c9")"), std::string::npos);
  EXPECT_NE(reply.find(R"("isError":true)"), std::string::npos);
  EXPECT_NE(reply.find("not available here"), std::string::npos);
  EXPECT_TRUE(r.seen.empty());
  d.feed(said("u", "I cannot do that."), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:I cannot do that.", "end"}));
}

TEST(CommandDecoder, ArgumentsThatAreNotAnObjectAreAnsweredWithAnError) {
  qodo::CommandDecoder d({"f"}, false);
  Recorder r;
  d.feed(
      R"({"session_id":"S","data":{"tool":"f","server_name":"client","identifier":"c","tool_args":[1,2]}})",
      r);
  d.feed(kReady, r);
  EXPECT_NE(d.takeOutgoing().find("not a JSON object"), std::string::npos);
  EXPECT_TRUE(r.seen.empty());
}

TEST(CommandDecoder, ErrorFramesAreFailuresClassifiedByTheirText) {
  struct Case {
    std::string frame;
    Failure failure;
  };
  const std::vector<Case> cases = {
      {R"({"error":"x","message":"Usage limit exceeded for this month"})",
       Failure::kUsageExhausted},
      {R"({"type":"error","message":"Too many concurrent requests"})", Failure::kRateLimited},
      {R"({"type":"error","data":{"tool":"UserResponse","tool_args":{"content":"boom"}}})",
       Failure::kBackendError},
      {R"({"type":"error","message":"Invalid API key"})", Failure::kInvalidToken},
  };
  for (const auto& c : cases) {
    qodo::CommandDecoder d({}, false);
    Recorder r;
    EXPECT_FALSE(d.feed(c.frame, r));
    ASSERT_EQ(r.seen.size(), 1u) << c.frame;
    EXPECT_TRUE(r.seen[0].starts_with("failure:" + std::to_string(static_cast<int>(c.failure))))
        << r.seen[0];
    EXPECT_FALSE(d.feed(said("u", "late"), r));
    EXPECT_EQ(r.seen.size(), 1u);
  }
}

TEST(CommandDecoder, AnErrorAboutResumeIsIgnored) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  EXPECT_TRUE(d.feed(R"({"type":"error","message":"Cannot RESUME session"})", r));
  d.feed(said("u", "fine"), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:fine", "end"}));
}

TEST(CommandDecoder, NotJsonIsAFailureAndFramesWithoutTheEnvelopeAreDropped) {
  {
    qodo::CommandDecoder d({}, false);
    Recorder r;
    EXPECT_FALSE(d.feed("<html>oops</html>", r));
    EXPECT_EQ(r.seen,
              (std::vector<std::string>{failure(
                  Failure::kUnreadable, "the backend sent a frame that is not a JSON object")}));
  }
  qodo::CommandDecoder d({}, false);
  Recorder r;
  EXPECT_TRUE(
      d.feed(R"({"data":{"tool":"UserResponse","tool_args":{"content":"no session"}}})", r));
  EXPECT_TRUE(d.feed(R"({"session_id":"S","data":{}})", r));
  EXPECT_TRUE(d.feed(R"({"session_id":"S"})", r));
  EXPECT_TRUE(r.seen.empty());
}

TEST(CommandDecoder, ReadyWithNoAnswerIsAFailureSoAnotherAccountCanTry) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  EXPECT_FALSE(d.feed(kReady, r));
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_TRUE(r.seen[0].starts_with(failure(Failure::kBackendError, "")));
}

TEST(CommandDecoder, AnEndWithoutTextIsNoTextAndACloseBeforeTheEndIsAFailure) {
  {
    qodo::CommandDecoder d({}, false);
    Recorder r;
    d.feed(said("u", ""), r);
    d.feed(kEndNode, r);
    EXPECT_EQ(r.seen, (std::vector<std::string>{
                          failure(Failure::kNoText, "the backend answered without any text")}));
  }
  qodo::CommandDecoder d({}, false);
  Recorder r;
  d.feed(said("u", "half"), r);
  d.finish(r);
  EXPECT_EQ(r.seen,
            (std::vector<std::string>{
                "text:half", failure(Failure::kBackendError,
                                     "the backend closed the session before the answer ended")}));
}

TEST(CommandDecoder, ResetStartsAFreshAnswer) {
  qodo::CommandDecoder d({}, false);
  Recorder r;
  d.feed("garbage", r);
  d.reset();
  r.seen.clear();
  d.feed(said("u", "fresh"), r);
  d.feed(kEndNode, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:fresh", "end"}));
}

}  // namespace

// The fast path answers only what the DOM reading of the frame would: for every frame it
// accepts, Boost.JSON must see a UserResponse with that identifier and content, no sub-type and
// no error; frames it declines are the DOM path's.
namespace fastpath {

std::optional<std::pair<std::string, std::string>> domReading(const std::string& frame) {
  boost::system::error_code ec;
  auto v = boost::json::parse(frame, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  if (o.contains("error") || o.contains("type") || o.contains("message")) return std::nullopt;
  const auto* data = o.if_contains("data");
  if (!o.contains("session_id") || !data || !data->is_object()) return std::nullopt;
  const auto& d = data->as_object();
  const auto* tool = d.if_contains("tool");
  if (!tool || !tool->is_string() || tool->get_string() != "UserResponse" || d.contains("type"))
    return std::nullopt;
  const auto* args = d.if_contains("tool_args");
  if (!args || !args->is_object() || args->as_object().contains("type")) return std::nullopt;
  const auto* content = args->as_object().if_contains("content");
  if (!content || !content->is_string()) return std::nullopt;
  const auto* id = d.if_contains("identifier");
  return std::pair<std::string, std::string>{
      id && id->is_string() ? std::string(id->get_string()) : "", std::string(content->get_string())};
}

}  // namespace fastpath

TEST(CommandDecoderFastPath, AnswersWhatTheDomReadingSaysOrDeclines) {
  const std::vector<std::string> frames = {
      said("u1", "plain"),
      said("u1", R"(esc \"q\" \\ \n \u00e9 \u4e2d)"),
      said("", "no id"),
      R"({"data":{"tool_args":{"content":"order"},"identifier":"u9","tool":"UserResponse"},"session_id":"S"})",
      R"({ "session_id" : "S" , "data" : { "tool" : "UserResponse" , "tool_args" : { "content" : "spaces" } } } )",
      R"({"session_id":"S","extra":[1,2,{"a":null}],"data":{"tool":"UserResponse","x":true,"tool_args":{"content":"extra keys","n":-1.5}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"type":"progress","content":"p"}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","type":"retry_status","tool_args":{"content":"r"}}})",
      R"({"session_id":"S","type":"error","message":"boom","data":{"tool":"UserResponse","tool_args":{"content":"e"}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"content":42}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"content":"a","content":"b"}}})",
      R"({"session_id":"S","data":{"tool":"EndNode"}})",
      R"({"data":{"tool":"UserResponse","tool_args":{"content":"no session"}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"content":"\ud83d\ude00"}}})",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"content":"trailing"}}} x)",
      R"({"session_id":"S","data":{"tool":"UserResponse","tool_args":{"content":"cut")",
      "not json at all",
      R"({"session_id":1,"data":{"tool":"UserResponse","tool_args":{"content":"numeric session"}}})",
  };
  size_t accepted = 0;
  for (const auto& f : frames) {
    std::string scratch;
    const auto fast = qodo::scanUserResponse(f, scratch);
    if (!fast) continue;
    ++accepted;
    const auto dom = fastpath::domReading(f);
    ASSERT_TRUE(dom.has_value()) << f;
    EXPECT_EQ(std::string(fast->identifier), dom->first) << f;
    EXPECT_EQ(std::string(fast->content), dom->second) << f;
  }
  EXPECT_GE(accepted, 6u) << "the common frames take the fast path";
  // And through the decoder, the same text either way.
  qodo::CommandDecoder d({}, false);
  Recorder r;
  EXPECT_TRUE(d.feed(said("u1", R"(caf\u00e9 )"), r));
  EXPECT_TRUE(d.feed(R"({"session_id":"S","data":{"tool":"UserResponse","identifier":"u1","tool_args":{"content":"ok","type":"answer"}}})", r));
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:café ", "text:ok"}));
}
