// Text that is not valid UTF-8 never crashes or hangs the tokenizer: each ill-formed sequence
// counts as U+FFFD, as it would in a JavaScript string decoded from the same bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "sanitized_build.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using tokenizer::Encoding;
using tokenizer::detail::toWellFormed;
using tokenizer::detail::wellFormedPrefix;

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8, WellFormedTextIsLeftAsItIs) {
  const std::string text = "plain ascii, caf\xC3\xA9, \xE4\xB8\xAD\xE6\x96\x87, \xF0\x9F\x98\x80";
  EXPECT_EQ(wellFormedPrefix(text), text.size());
  EXPECT_EQ(toWellFormed(text), text);
  EXPECT_EQ(wellFormedPrefix(""), 0u);
}

TEST(Utf8, StopsTheWellFormedPrefixAtTheFirstBadByte) {
  EXPECT_EQ(wellFormedPrefix("abcdefghijk\x80xyz"), 11u);
  EXPECT_EQ(wellFormedPrefix("ab\xC3"), 2u);
}

TEST(Utf8, ReplacesEachMaximalIllFormedSubpartByOneReplacementCharacter) {
  // The WHATWG decoder's (and so JavaScript's) choices, byte pattern by byte pattern.
  EXPECT_EQ(toWellFormed("a\x80"
                         "b"),
            "a" + kReplacement + "b");
  EXPECT_EQ(toWellFormed("\xC0\xAF"), kReplacement + kReplacement);  // overlong
  EXPECT_EQ(toWellFormed("\xE0\x80\xAF"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(toWellFormed("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(toWellFormed("\xF4\x90\x80\x80"),
            kReplacement + kReplacement + kReplacement + kReplacement);  // above U+10FFFF
  EXPECT_EQ(toWellFormed("\xE4\xBD"
                         "x"),
            kReplacement + "x");                                 // truncated, then more
  EXPECT_EQ(toWellFormed("x\xF0\x9F\x98"), "x" + kReplacement);  // truncated at the end
  EXPECT_EQ(toWellFormed("\xFF\xFE"), kReplacement + kReplacement);
  EXPECT_EQ(toWellFormed(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Tokenizer, CountsIllFormedBytesAsTheReplacementCharacter) {
  for (const Encoding encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    EXPECT_EQ(tokenizer::countTokens(encoding, "caf\xC3"), tokenizer::countTokens(encoding,
                                                                                  "caf"
                                                                                  "\xEF\xBF\xBD"));
    EXPECT_EQ(tokenizer::encode(encoding, "\xFF hello"),
              tokenizer::encode(encoding, "\xEF\xBF\xBD hello"));
  }
}

TEST(Tokenizer, NeverFailsOnRandomBytes) {
  std::mt19937 random(42);
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 300; ++round) {
    std::string bytes(1 + random() % 2000, '\0');
    for (char& b : bytes) b = static_cast<char>(random());
    for (const Encoding encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      const auto ids = tokenizer::encode(encoding, bytes);
      ASSERT_EQ(tokenizer::countTokens(encoding, bytes), ids.size());
      ASSERT_EQ(ids, tokenizer::encode(encoding, toWellFormed(bytes)));
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(10) * kSanitizerSlowdown);
}

}  // namespace
