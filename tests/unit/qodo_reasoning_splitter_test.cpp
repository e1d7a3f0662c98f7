#include <gtest/gtest.h>

#include "qodo/reasoning_splitter.h"

namespace {

struct Result {
  std::string reasoning;
  std::string content;
};

// Feeds the pieces one by one, then flushes; the concatenated output.
Result run(const std::vector<std::string>& pieces, bool hide = false) {
  qodo::ReasoningSplitter s(hide);
  Result r;
  for (const auto& p : pieces) {
    auto out = s.feed(p);
    r.reasoning += out.reasoning;
    r.content += out.content;
  }
  auto out = s.flush();
  r.reasoning += out.reasoning;
  r.content += out.content;
  return r;
}

// Every way of cutting `text` in two.
std::vector<std::vector<std::string>> splitsInTwo(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i <= text.size(); ++i) out.push_back({text.substr(0, i), text.substr(i)});
  return out;
}

TEST(ReasoningSplitter, SeparatesThinkFromTheAnswer) {
  auto r = run({"<think>step 1, step 2</think>\n\nThe answer is 4."});
  EXPECT_EQ(r.reasoning, "step 1, step 2");
  EXPECT_EQ(r.content, "The answer is 4.");
}

TEST(ReasoningSplitter, HandlesBothTagsSplitAtEveryPosition) {
  const std::string text = "  <think>why</think>so";
  for (const auto& pieces : splitsInTwo(text)) {
    auto r = run(pieces);
    EXPECT_EQ(r.reasoning, "why") << "[" << pieces[0] << "|" << pieces[1] << "]";
    EXPECT_EQ(r.content, "so") << "[" << pieces[0] << "|" << pieces[1] << "]";
  }
}

TEST(ReasoningSplitter, HandlesTagsSplitIntoSingleCharacters) {
  std::vector<std::string> pieces;
  for (char c : std::string("\n<think>a<b</thin</think>ok")) pieces.emplace_back(1, c);
  auto r = run(pieces);
  EXPECT_EQ(r.reasoning, "a<b</thin");
  EXPECT_EQ(r.content, "ok");
}

TEST(ReasoningSplitter, TextThatOnlyStartsLikeATagIsContent) {
  for (const std::string text : {"<thinking>no</thinking>", "<th>table</th>", "<", " <t",
                                 "<b>bold</b>", "x<think>y</think>"}) {
    for (const auto& pieces : splitsInTwo(text)) {
      auto r = run(pieces);
      EXPECT_EQ(r.reasoning, "") << text;
      EXPECT_EQ(r.content, text) << text;
    }
  }
}

TEST(ReasoningSplitter, PlainAnswersPassAtOnce) {
  qodo::ReasoningSplitter s;
  EXPECT_EQ(s.feed("Hello").content, "Hello");
  EXPECT_EQ(s.feed(" <think>").content, " <think>");
}

TEST(ReasoningSplitter, HoldsTextOnlyWhileItCouldBeATag) {
  qodo::ReasoningSplitter s;
  auto a = s.feed(" <thi");
  EXPECT_EQ(a.content, "");
  auto b = s.feed("nk>idea </");
  EXPECT_EQ(b.reasoning, "idea ");
  auto c = s.feed("b> more");
  EXPECT_EQ(c.reasoning, "</b> more");
  auto d = s.feed("</think>Answer");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Answer");
}

TEST(ReasoningSplitter, ReasoningStreamsAsItArrives) {
  qodo::ReasoningSplitter s;
  EXPECT_EQ(s.feed("<think>").reasoning, "");
  EXPECT_EQ(s.feed("first").reasoning, "first");
  EXPECT_EQ(s.feed(" second").reasoning, " second");
}

TEST(ReasoningSplitter, HideDropsReasoningButKeepsTheAnswer) {
  auto r = run({"<think>secret", " thoughts</th", "ink>", "\n", "Visible"}, true);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Visible");
}

TEST(ReasoningSplitter, FlushReturnsWhatWasHeldBack) {
  auto partialOpen = run({"  <thin"});
  EXPECT_EQ(partialOpen.content, "  <thin");
  auto unclosed = run({"<think>never closed </thi"});
  EXPECT_EQ(unclosed.reasoning, "never closed </thi");
  EXPECT_EQ(unclosed.content, "");
  auto onlySpace = run({"\n\n"});
  EXPECT_EQ(onlySpace.content, "\n\n");
}

TEST(ReasoningSplitter, WhitespaceBetweenReasoningAndAnswerIsDropped) {
  auto r = run({"<think>r</think>", "\n", "\n  ", "A", "\n b"});
  EXPECT_EQ(r.reasoning, "r");
  EXPECT_EQ(r.content, "A\n b");
}

TEST(ReasoningSplitter, ALaterThinkTagIsJustText) {
  auto r = run({"<think>r</think>A <think>x</think>"});
  EXPECT_EQ(r.reasoning, "r");
  EXPECT_EQ(r.content, "A <think>x</think>");
}

}  // namespace
