#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event_recorder.h"
#include "qodo/chats_decoder.h"

namespace {

using conversation::EventKind;
using conversation::Failure;

// What a decoder delivered, in order, as readable lines.
using testing_events::failure;
using testing_events::Recorder;

std::string textLine(const std::string& content) {
  return R"({"type":"text","sub_type":"code_implementation","data":{"content":")" + content +
         "\"}}\n";
}

TEST(ChatsDecoder, TextEventsBecomeTextEventsThenTheEnd) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  EXPECT_TRUE(decoder.feed(textLine("Hel") + textLine("lo"), r));
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:Hel", "text:lo", "end"}));
}

TEST(ChatsDecoder, ALineSplitAcrossReadsIsOneEvent) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  const std::string line = textLine("whole");
  for (char c : line) EXPECT_TRUE(decoder.feed(std::string_view(&c, 1), r));
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:whole", "end"}));
}

TEST(ChatsDecoder, ThinkTagsBecomeReasoningEvents) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  decoder.feed(textLine("<think>why</think>") + textLine("because"), r);
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"reasoning:why", "text:because", "end"}));
}

TEST(ChatsDecoder, HiddenReasoningIsNotDelivered) {
  qodo::ChatsDecoder decoder(1 << 20, true);
  Recorder r;
  decoder.feed(textLine("<think>why</think>") + textLine("because"), r);
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:because", "end"}));
}

TEST(ChatsDecoder, AnErrorLineIsAFailureAndNothingAfterItCounts) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  EXPECT_FALSE(decoder.feed(
      textLine("one") + "{\"error\":\"Too many concurrent requests\"}\n" + textLine("never"), r));
  EXPECT_FALSE(decoder.feed(textLine("later"), r));
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:one", failure(Failure::kRateLimited,
                                                                  "rate limited by the backend")}));
}

TEST(ChatsDecoder, AnUnknownErrorObjectIsABackendError) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  decoder.feed("{\"error\":{\"code\":7}}\n", r);
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0], failure(Failure::kBackendError, "unexpected backend error"));
}

TEST(ChatsDecoder, ALineBeyondTheLimitIsAnOversizeFailure) {
  qodo::ChatsDecoder decoder(64, false);
  Recorder r;
  EXPECT_FALSE(decoder.feed(std::string(100, 'x'), r));
  EXPECT_EQ(r.seen, (std::vector<std::string>{failure(
                        Failure::kOversize, "the backend sent a line longer than 64 bytes")}));
}

TEST(ChatsDecoder, AnAnswerWithoutTextFailsAtTheEnd) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  decoder.feed("not json\n{\"type\":\"status\"}\n" + textLine(""), r);
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{
                        failure(Failure::kNoText, "the backend answered without any text")}));
}

TEST(ChatsDecoder, ResetStartsAFreshAnswer) {
  qodo::ChatsDecoder decoder(1 << 20, false);
  Recorder r;
  decoder.feed("{\"error\":\"Invalid token\"}\n" + textLine("half"), r);
  decoder.reset();
  r.seen.clear();
  decoder.feed(textLine("fresh"), r);
  decoder.finish(r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"text:fresh", "end"}));
}

}  // namespace
