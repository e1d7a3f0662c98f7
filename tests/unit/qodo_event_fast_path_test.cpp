// The fast path of qodo::EventParser (scanTextEvent) must answer exactly what the Boost.JSON
// path answers, and must take the common text events the backend sends.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <random>
#include <string>
#include <vector>

#include "qodo/event_parser.h"
#include "qodo/line_splitter.h"

namespace {

using qodo::EventKind;

struct Answer {
  EventKind kind;
  std::string text;
  bool operator==(const Answer&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << "{kind " << static_cast<int>(a.kind) << ", text \"" << a.text << "\"}";
}

Answer reference(std::string_view line) {
  qodo::EventParser p;
  auto e = p.parseWithDom(line);
  return {e.kind, std::string(e.text)};
}

// Checks agreement; returns whether the fast path answered.
bool agrees(std::string_view line) {
  std::string scratch;
  const Answer want = reference(line);
  const auto fast = qodo::scanTextEvent(line, scratch);
  if (fast) {
    EXPECT_EQ((Answer{fast->kind, std::string(fast->text)}), want) << line;
  }
  qodo::EventParser p;
  auto e = p.parse(line);
  EXPECT_EQ((Answer{e.kind, std::string(e.text)}), want) << line;
  return fast.has_value();
}

TEST(EventFastPath, TakesTheCommonTextEvents) {
  const std::vector<std::string> lines = {
      R"({"type":"text","sub_type":"code_implementation","used_model":"gpt-4o","data":{"content":"tok0 "}})",
      R"({"type":"text","data":{"content":"Hello \"world\"\n"}})",
      R"({"data":{"content":"order changed"},"type":"text"})",
      R"({"used_model":"gpt-4o","data":{"extra":1,"content":"x","more":[1,2,{"a":null}]},"type":"text","sub_type":"a"})",
      R"({ "type" : "text" , "data" : { "content" : "spaced" } }  )",
      "{\t\"type\":\"text\",\r\n\"data\":{\"content\":\"tabs\"}}",
      R"({"type":"text","data":{"content":"esc \\ \/ \b \f \n \r \t \u0041 \u00e9 \u4e2d \u0000 end"}})",
      R"({"type":"text","data":{"content":"raw unicode: é 中文 😀 ü"}})",
      R"({"type":"text","data":{"content":""}})",
      R"({"type":"text","data":{}})",
      R"({"type":"text"})",
      R"({"type":"text","n":-12.5,"z":0,"t":true,"f":false,"u":null,"data":{"content":"nums"}})",
      R"({"type":"text","data":{"content":"\"quoted\" at both ends\""}})",
  };
  for (const auto& line : lines) EXPECT_TRUE(agrees(line)) << line;
}

TEST(EventFastPath, LeavesTheRestToTheFullParser) {
  const std::vector<std::string> lines = {
      R"({"type":"usage","data":{"content":"not text"}})",
      R"( {"type":"text","data":{"content":"leading space"}})",
      R"({"data":{"content":"x"}})",
      R"({})",
      R"({"error":"Usage limit exceeded"})",
      R"({"type":"text","data":{"content":"x"},"error":{"message":"boom"}})",
      R"({"type":"text","type":"other","data":{"content":"x"}})",
      R"({"type":"text","data":{"content":"a","content":"b"}})",
      R"({"type":"text","data":{"content":"x"},"data":{"content":"y"}})",
      R"({"type":"te\u0078t","data":{"content":"escaped type"}})",
      R"({"t\u0079pe":"text","data":{"content":"escaped key"}})",
      R"({"type":"text","data":{"content":"pair \ud83d\ude00"}})",
      R"({"type":"text","data":{"content":"lone \ud83d"}})",
      R"({"type":"text","data":{"content":42}})",
      R"({"type":"text","data":"string data"})",
      R"({"type":"text","big":123456789012345678901234567890,"data":{"content":"x"}})",
      R"({"type":"text","e":1e999,"data":{"content":"x"}})",
      R"({"type":"text","deep":[[[[[[[[[[1]]]]]]]]]],"data":{"content":"x"}})",
      R"({"type":"text","data":{"content":"x"}} trailing)",
      R"({"type":"text","data":{"content":"x"},})",
      R"({"type":"text","data":{"content":"unterminated)",
      R"({"type":"text","data":{"content":"bad escape \x"}})",
      R"({"type":"text","data":{"content":"bad \u12"}})",
      "{\"type\":\"text\",\"data\":{\"content\":\"raw\ncontrol\"}}",
      "{\"type\":\"text\",\"data\":{\"content\":\"bad utf8 \xC0\xAF\"}}",
      "{\"type\":\"text\",\"data\":{\"content\":\"surrogate utf8 \xED\xA0\x80\"}}",
      "{\"type\":\"text\",\"data\":{\"content\":\"too high \xF4\x90\x80\x80\"}}",
      "{\"type\":\"text\",\"data\":{\"content\":\"cut \xE4\xB8\"}}",
      R"({"type":"text","n":01,"data":{"content":"x"}})",
      R"({"type":"text","n":-,"data":{"content":"x"}})",
      R"({"type":"text","n":1.,"data":{"content":"x"}})",
      R"({"type":"text","b":tru,"data":{"content":"x"}})",
      "[1,2]",
      "event: ping",
      "",
  };
  for (const auto& line : lines) EXPECT_FALSE(agrees(line)) << line;
}

TEST(EventFastPath, AgreesOnGeneratedEvents) {
  std::mt19937 rng(12345);
  auto pick = [&rng](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); };
  const std::vector<std::string> spaces = {"", " ", "  ", "\t", "\r\n", " \n "};
  for (int round = 0; round < 3000; ++round) {
    // Content: ASCII (quotes, backslashes, control characters), 2-, 3- and 4-byte characters.
    std::u32string code;
    for (uint32_t n = pick(24); n > 0; --n) {
      switch (pick(5)) {
        case 0: code += static_cast<char32_t>(pick(0x80)); break;
        case 1: code += static_cast<char32_t>(0x80 + pick(0x780)); break;
        case 2: code += static_cast<char32_t>(0xE000 + pick(0x2000)); break;
        case 3: code += static_cast<char32_t>(0x10000 + pick(0x100000)); break;
        default: code += U"\"\\/\n"[pick(4)]; break;
      }
    }
    std::string content;
    for (char32_t c : code) {
      if (c < 0x80) content += static_cast<char>(c);
      else if (c < 0x800) content += {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
      else if (c < 0x10000)
        content += {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                    static_cast<char>(0x80 | (c & 0x3F))};
      else
        content += {static_cast<char>(0xF0 | (c >> 18)), static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
                    static_cast<char>(0x80 | ((c >> 6) & 0x3F)), static_cast<char>(0x80 | (c & 0x3F))};
    }
    // Fields in a random order with random whitespace around every token.
    std::vector<std::pair<std::string, std::string>> fields = {
        {"type", "\"text\""},
        {"sub_type", "\"code_implementation\""},
        {"used_model", "\"gpt-4o\""},
        {"data", ""},
        {"index", std::to_string(static_cast<int>(pick(2000)) - 1000)}};
    std::shuffle(fields.begin(), fields.end(), rng);
    auto ws = [&] { return spaces[pick(static_cast<uint32_t>(spaces.size()))]; };
    std::string line = "{";  // the splitter trims a line's start
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) line += ws() + "," + ws();
      line += "\"" + fields[i].first + "\"" + ws() + ":" + ws();
      if (fields[i].first == "data")
        line += "{" + ws() + "\"content\"" + ws() + ":" + ws() +
                boost::json::serialize(boost::json::value(content)) + ws() + "}";
      else
        line += fields[i].second;
    }
    line += ws() + "}" + ws();
    ASSERT_TRUE(agrees(line)) << line;
    EXPECT_EQ(reference(line).text, content);
  }
}

TEST(EventFastPath, AgreesOnMutatedEvents) {
  // Damaged lines: whatever the fast path answers must be the full parser's answer.
  std::mt19937 rng(777);
  const std::vector<std::string> seeds = {
      R"({"type":"text","sub_type":"code","data":{"content":"a\"b\\c\n\u00e9 é 中 😀","x":[1,{"y":null}]}})",
      R"({"data":{"content":"tok"},"type":"text","n":-1.25,"t":true})",
  };
  const std::string alphabet = "{}[]\":,\\/ntfrue0123456789.-+eE \t\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xED\xA0\x80u";
  for (int round = 0; round < 20000; ++round) {
    std::string line = seeds[round % seeds.size()];
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % (line.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: if (at < line.size()) line[at] = c; break;
        case 1: line.insert(line.begin() + static_cast<long>(at), c); break;
        default: if (at < line.size()) line.erase(at, 1); break;
      }
    }
    agrees(line);
    if (HasFailure()) FAIL() << "round " << round << ": " << line;
  }
}

TEST(EventFastPath, DataPrefixVariantsThroughTheSplitter) {
  const std::string event = R"({"type":"text","data":{"content":"hi \"x\""}})";
  for (const std::string prefix : {"", "data:", "data: ", "data:  "}) {
    for (const std::string end : {"\n", "\r\n"}) {
      qodo::LineSplitter splitter;
      const std::string bytes = prefix + event + end;
      splitter.feed(bytes);
      auto next = splitter.next();
      ASSERT_EQ(next.status, qodo::LineSplitter::Status::kLine) << bytes;
      EXPECT_TRUE(agrees(next.line)) << bytes;
      qodo::EventParser p;
      EXPECT_EQ(p.parse(next.line).text, "hi \"x\"");
    }
  }
}

TEST(EventFastPath, TextSurvivesAFallbackInBetween) {
  // The fast path's unescaped text and the DOM path's memory are separate: each answer is
  // valid until the next parse.
  qodo::EventParser p;
  auto a = p.parse(R"({"type":"text","data":{"content":"a\nb"}})");
  EXPECT_EQ(a.text, "a\nb");
  auto b = p.parse(R"({"type":"usage","data":{}})");
  EXPECT_EQ(b.kind, EventKind::kOther);
  EXPECT_EQ(b.text, "usage");
  auto c = p.parse(R"({"type":"text","data":{"content":"c\td"}})");
  EXPECT_EQ(c.text, "c\td");
}

}  // namespace
