// The tool-markup sieve (SPEC §10, chats emulation): each answer is fed whole, one byte at a
// time, and split in two at every byte boundary, and must come out the same every way — the
// same text, the same calls, never a piece of markup in the text — while plain text is passed
// on in the piece it arrived in.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qodo/tool_sieve.h"

namespace {

using conversation::Event;
using conversation::EventKind;

// What came out, with adjacent text (and reasoning) pieces joined.
struct Out : conversation::EventSink {
  std::string text;
  std::string reasoning;
  std::vector<std::string> calls;  // "name args"
  std::vector<size_t> indexes;
  bool ended = false;
  bool open = false;
  void onEvent(const Event& e) override {
    switch (e.kind) {
      case EventKind::kText:
        EXPECT_FALSE(e.text.empty());
        text += e.text;
        return;
      case EventKind::kReasoning:
        reasoning += e.text;
        return;
      case EventKind::kToolCallBegin:
        EXPECT_FALSE(open);
        open = true;
        calls.push_back(std::string(e.text) + " ");
        indexes.push_back(e.index);
        return;
      case EventKind::kToolCallArguments:
        EXPECT_TRUE(open);
        calls.back() += e.text;
        return;
      case EventKind::kToolCallEnd:
        EXPECT_TRUE(open);
        open = false;
        return;
      case EventKind::kEnd:
        ended = true;
        return;
      default:
        return;
    }
  }
};

std::vector<conversation::Tool> tools() {
  return {
      {"get_weather", "Weather for a city",
       R"({"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},)"
       R"("units":{"type":["string","null"]},"detail":{"type":"object"}}})"},
      {"read_file", "", R"({"type":"object","properties":{"path":{"type":"string"}}})"},
  };
}

struct Expected {
  std::string text;
  std::vector<std::string> calls;
  std::string reasoning;
};

// Feeds `pieces` (text unless `reasoningUpTo` marks a prefix of the whole answer as reasoning).
Out run(const std::vector<std::string>& pieces, bool parallel = true, bool asReasoning = false) {
  Out out;
  qodo::ToolSieve sieve(tools(), parallel, &out);
  for (const auto& p : pieces)
    sieve.onEvent(Event::of(asReasoning ? EventKind::kReasoning : EventKind::kText, p));
  sieve.onEvent(Event::of(EventKind::kEnd));
  EXPECT_TRUE(out.ended);
  return out;
}

void expectEveryWay(const std::string& answer, const Expected& expected, bool parallel = true) {
  auto check = [&](const Out& out, const std::string& how) {
    EXPECT_EQ(out.text, expected.text) << how;
    EXPECT_EQ(out.calls, expected.calls) << how;
    for (size_t i = 0; i < out.indexes.size(); ++i) EXPECT_EQ(out.indexes[i], i) << how;
  };
  check(run({answer}, parallel), "whole");
  std::vector<std::string> bytes;
  for (char c : answer) bytes.emplace_back(1, c);
  check(run(bytes, parallel), "byte by byte");
  for (size_t i = 1; i < answer.size(); ++i)
    check(run({answer.substr(0, i), answer.substr(i)}, parallel), "split at " + std::to_string(i));
}

TEST(ToolSieve, PlainTextComesOutUnchanged) {
  const std::string answer = "Hello <b>world</b>, a < b and <tool_ca x> and <function_call>. ";
  expectEveryWay(answer, {answer, {}});
}

TEST(ToolSieve, FunctionCallsBecomeTypedCalls) {
  expectEveryWay(
      "Let me check.\n<function_calls>\n<invoke name=\"get_weather\">\n"
      "<parameter name=\"city\">Paris</parameter>\n<parameter name=\"days\">3</parameter>\n"
      "<parameter name=\"detail\">{\"hourly\": true}</parameter>\n"
      "</invoke>\n</function_calls>",
      {"Let me check.\n", {R"(get_weather {"city":"Paris","days":3,"detail":{"hourly":true}})"}});
}

TEST(ToolSieve, StringParametersAreVerbatimAndNotJson) {
  expectEveryWay(
      "<function_calls><invoke name='read_file'><parameter name=\"path\">42</parameter>"
      "</invoke></function_calls>",
      {"", {R"(read_file {"path":"42"})"}});
  // A non-string type whose value is not JSON stays text; a nullable string is a string.
  expectEveryWay(
      "<function_calls><invoke name=\"get_weather\"><parameter name=\"days\">three</parameter>"
      "<parameter name=\"units\">null</parameter></invoke></function_calls>",
      {"", {R"(get_weather {"days":"three","units":"null"})"}});
}

TEST(ToolSieve, SeveralInvokesAreParallelCalls) {
  expectEveryWay(
      "<function_calls>\n<invoke name=\"read_file\"><parameter name=\"path\">a.txt</parameter>"
      "</invoke>\n<invoke name=\"read_file\"><parameter name=\"path\">b.txt</parameter></invoke>"
      "\n</function_calls>\n",
      {"", {R"(read_file {"path":"a.txt"})", R"(read_file {"path":"b.txt"})"}});
}

TEST(ToolSieve, WithoutParallelCallsOnlyTheFirstIsMade) {
  expectEveryWay(
      "<tool_call>{\"name\":\"read_file\",\"arguments\":{\"path\":\"a\"}}</tool_call>"
      "<tool_call>{\"name\":\"read_file\",\"arguments\":{\"path\":\"b\"}}</tool_call>",
      {"", {R"(read_file {"path":"a"})"}}, false);
}

TEST(ToolSieve, ToolCallJsonFormAndWhatFollowsTheLastTagIsDropped) {
  expectEveryWay(
      "Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n"
      "</tool_call>\nsome words after\n<tool_call>{\"name\":\"read_file\",\"arguments\":"
      "\"{\\\"path\\\":\\\"x\\\"}\"}</tool_call> trailing",
      {"Sure.\n", {R"(get_weather {"city":"Oslo"})", R"(read_file {"path":"x"})"}});
}

TEST(ToolSieve, TheSameCallTwiceIsOneCall) {
  const std::string call =
      "<tool_call>{\"name\":\"read_file\",\"arguments\":{\"path\":\"a\"}}</tool_call>";
  expectEveryWay(call + "\n" + call, {"", {R"(read_file {"path":"a"})"}});
}

TEST(ToolSieve, MarkupInsideACodeFenceIsText) {
  const std::string answer =
      "Write it like this:\n```xml\n<function_calls><invoke name=\"read_file\"><parameter "
      "name=\"path\">a</parameter></invoke></function_calls>\n```\nthat is all.";
  expectEveryWay(answer, {answer, {}});
}

TEST(ToolSieve, HalfAMarkupIsText) {
  const std::string answer =
      "Checking <function_calls>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Par";
  expectEveryWay(answer, {answer, {}});
  expectEveryWay("trailing <function_ca", {"trailing <function_ca", {}});
  expectEveryWay("<tool_call>{\"name\":\"read_file\"", {"<tool_call>{\"name\":\"read_file\"", {}});
}

TEST(ToolSieve, AnUndeclaredToolOrBadMarkupIsText) {
  const std::string undeclared =
      "<function_calls><invoke name=\"delete_all\"></invoke></function_calls> then text";
  expectEveryWay(undeclared, {undeclared, {}});
  const std::string notJson = "<tool_call>{name: read_file}</tool_call> ok";
  expectEveryWay(notJson, {notJson, {}});
  const std::string argsNotObject =
      "<tool_call>{\"name\":\"read_file\",\"arguments\":\"not json\"}</tool_call>";
  expectEveryWay(argsNotObject, {argsNotObject, {}});
  const std::string empty = "<function_calls>\n</function_calls>";
  expectEveryWay(empty, {empty, {}});
}

TEST(ToolSieve, AClosingTagInsideAValueDoesNotCloseTheMarkup) {
  expectEveryWay(
      "<function_calls><invoke name=\"read_file\"><parameter name=\"path\">x</function_calls>y"
      "</parameter></invoke></function_calls>",
      {"", {R"(read_file {"path":"x</function_calls>y"})"}});
  expectEveryWay(
      "<tool_call>{\"name\":\"read_file\",\"arguments\":{\"path\":\"</tool_call>\"}}</tool_call>",
      {"", {R"(read_file {"path":"</tool_call>"})"}});
}

TEST(ToolSieve, ACallWrittenWhileReasoningIsACall) {
  Out out = run({"I should look. <tool_call>{\"name\":\"read_file\",\"arguments\":{\"path\":\"a\"}}",
                 "</tool_call>"},
                true, true);
  EXPECT_EQ(out.reasoning, "I should look. ");
  EXPECT_EQ(out.calls, std::vector<std::string>{R"(read_file {"path":"a"})"});
}

TEST(ToolSieve, PlainTextIsNotHeldBack) {
  Out out;
  qodo::ToolSieve sieve(tools(), true, &out);
  sieve.onEvent(Event::of(EventKind::kText, "Hello there, "));
  EXPECT_EQ(out.text, "Hello there, ");
  sieve.onEvent(Event::of(EventKind::kText, "x <tool"));
  EXPECT_EQ(out.text, "Hello there, x ");  // only the possible tag waits
  sieve.onEvent(Event::of(EventKind::kText, "box> y"));
  EXPECT_EQ(out.text, "Hello there, x <toolbox> y");
}

TEST(ToolSieve, AnOversizedMarkupIsLetGoAsText) {
  std::string answer = "<function_calls><invoke name=\"read_file\"><parameter name=\"path\">";
  answer += std::string(qodo::kMaxMarkupBytes, 'a');
  Out out = run({answer, "</parameter></invoke></function_calls>"});
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.text.size(), answer.size() + 38);
}

TEST(ToolSieve, ResetStartsAFreshAnswer) {
  Out out;
  qodo::ToolSieve sieve(tools(), true, &out);
  sieve.onEvent(Event::of(EventKind::kText,
                          "<tool_call>{\"name\":\"read_file\",\"arguments\":{}}</tool_call>"));
  EXPECT_EQ(out.calls.size(), 1u);
  sieve.reset();
  sieve.onEvent(Event::of(EventKind::kText, "<tool_"));
  sieve.reset();
  sieve.onEvent(Event::of(EventKind::kText, "fresh text"));
  sieve.onEvent(Event::of(EventKind::kText,
                          "<tool_call>{\"name\":\"read_file\",\"arguments\":{}}</tool_call>"));
  EXPECT_EQ(out.text, "fresh text");
  EXPECT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.indexes[1], 0u);
}

}  // namespace
