#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "api/json_text.h"

namespace {

std::string escapedString(std::string_view text) {
  std::string out;
  api::appendJsonString(out, text);
  return out;
}

// What a strict JSON parser reads back from the escaped text.
std::string roundTrip(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(escapedString(text), ec);
  EXPECT_FALSE(ec) << ec.message() << " for " << escapedString(text);
  return ec ? std::string() : std::string(v.as_string());
}

TEST(JsonText, PlainAsciiIsCopiedBetweenQuotes) {
  EXPECT_EQ(escapedString("hello world"), "\"hello world\"");
}

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(escapedString("a\"b\\c\nd\re\tf\bg\fh"), R"("a\"b\\c\nd\re\tf\bg\fh")");
  EXPECT_EQ(escapedString(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(escapedString(std::string("a\0b", 3)), R"("a\u0000b")");
}

TEST(JsonText, KeepsValidMultiByteUtf8) {
  const std::string text = "中文 ☃ 😀 é";
  EXPECT_EQ(escapedString(text), "\"" + text + "\"");
  EXPECT_EQ(roundTrip(text), text);
}

TEST(JsonText, ReplacesEachInvalidByteWithReplacementCharacter) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(roundTrip("a\xFF"
                      "b"),
            "a" + fffd + "b");
  EXPECT_EQ(roundTrip("\x80"), fffd);                                   // lone continuation byte
  EXPECT_EQ(roundTrip("\xC3"), fffd);                                   // truncated at end
  EXPECT_EQ(roundTrip("\xC0\xAF"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(roundTrip("\xE0\x80\xAF"), fffd + fffd + fffd);             // overlong 3-byte
  EXPECT_EQ(roundTrip("\xED\xA0\x80"), fffd + fffd + fffd);             // surrogate U+D800
  EXPECT_EQ(roundTrip("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // above U+10FFFF
  EXPECT_EQ(roundTrip("\xE4\xB8"
                      "x"),
            fffd + fffd + "x");  // cut short by ASCII
}

TEST(JsonText, EveryByteSequenceComesOutAsValidJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (int i = 255; i >= 0; --i) all += static_cast<char>(i);
  boost::system::error_code ec;
  boost::json::parse(escapedString(all), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(JsonText, AppendsIntegers) {
  std::string out;
  api::appendJsonInt(out, -12);
  out += ',';
  api::appendJsonInt(out, 1745000000);
  EXPECT_EQ(out, "-12,1745000000");
}

}  // namespace

// The escaper skips eight plain bytes at a time: whatever sits at any offset of a long run of
// plain text (each byte that needs care, at every position and alignment) comes out as the
// byte-by-byte reading gives it, and parses back to the text (invalid bytes aside).
TEST(JsonText, EveryByteNeedingCareIsFoundAtEveryPositionOfALongRun) {
  const std::string plain(40, 'a');
  const std::vector<std::string> specials = {"\"",
                                             "\\",
                                             "\n",
                                             std::string(1, '\0'),
                                             "\x1f",
                                             "\xc3\xa9",
                                             "\xe4\xb8\xad",
                                             "\xf0\x9f\x98\x80",
                                             "\x7f",
                                             " ",
                                             "~"};
  for (const std::string& special : specials) {
    for (size_t at = 0; at <= plain.size(); ++at) {
      std::string text = plain;
      text.insert(at, special);
      std::string out;
      api::appendJsonString(out, text);
      auto parsed = boost::json::parse(out);
      EXPECT_EQ(parsed.as_string(), text) << "special byte(s) at " << at;
    }
  }
}
