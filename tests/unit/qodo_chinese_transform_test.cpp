#include <gtest/gtest.h>

#include "qodo/chinese_transform.h"

namespace {

using qodo::containsCjk;
using qodo::formUrlEncode;

TEST(ContainsCjk, FindsHanKanaHangulAndCjkPunctuation) {
  EXPECT_TRUE(containsCjk("hello 你好"));
  EXPECT_TRUE(containsCjk("ひらがな"));
  EXPECT_TRUE(containsCjk("カタカナ"));
  EXPECT_TRUE(containsCjk("한국어"));
  EXPECT_TRUE(containsCjk("end。"));             // U+3002 ideographic full stop
  EXPECT_TRUE(containsCjk("a，b"));              // U+FF0C fullwidth comma
  EXPECT_TRUE(containsCjk("\xF0\xA0\x80\x80"));  // U+20000, beyond the BMP
}

TEST(ContainsCjk, IgnoresLatinCyrillicEmojiAndBrokenBytes) {
  EXPECT_FALSE(containsCjk("plain English, café, naïve"));
  EXPECT_FALSE(containsCjk("Привет"));
  EXPECT_FALSE(containsCjk("smile 😀 — “quotes”"));
  EXPECT_FALSE(containsCjk("\xE4\xB8"));  // a Han character cut short
  EXPECT_FALSE(containsCjk(""));
}

TEST(FormUrlEncode, KeepsUnreservedAndEncodesTheRestAsUppercaseHex) {
  EXPECT_EQ(formUrlEncode("AZaz09-_.~*"), "AZaz09-_.~*");
  EXPECT_EQ(formUrlEncode("a b+c"), "a+b%2Bc");
  EXPECT_EQ(formUrlEncode("100%&x=y/?#\n"), "100%25%26x%3Dy%2F%3F%23%0A");
  EXPECT_EQ(formUrlEncode("你好"), "%E4%BD%A0%E5%A5%BD");
  EXPECT_EQ(formUrlEncode(""), "");
}

TEST(ChineseTransform, PrependsTheInstructionToTheEncodedSystemText) {
  qodo::ChatTurns c{"你好 world",
                       {{"system", "Be brief."}, {"user", "第一"}, {"assistant", "ok!"}}};
  ASSERT_TRUE(qodo::needsChineseTransform(c));
  qodo::applyChineseTransform(c);
  EXPECT_EQ(c.chatInput, "%E4%BD%A0%E5%A5%BD+world");
  ASSERT_EQ(c.previous.size(), 5u);
  EXPECT_EQ(c.previous[0].role, "system");
  EXPECT_EQ(c.previous[0].content, std::string(qodo::kChineseInstruction) + "\n\nBe+brief.");
  EXPECT_EQ(c.previous[1].role, "user");
  EXPECT_EQ(c.previous[1].content, "%E7%AC%AC%E4%B8%80");
  EXPECT_EQ(c.previous[2].role, "assistant");
  EXPECT_EQ(c.previous[2].content, "ok%21");
  EXPECT_EQ(c.previous[3].role, "user");
  EXPECT_EQ(c.previous[3].content, qodo::kChineseConfirmQuestion);
  EXPECT_EQ(c.previous[4].role, "assistant");
  EXPECT_EQ(c.previous[4].content, qodo::kChineseConfirmAnswer);
}

TEST(ChineseTransform, InsertsASystemTurnFirstWhenThereIsNone) {
  qodo::ChatTurns c{"hello", {{"user", "上一个"}}};
  qodo::applyChineseTransform(c);
  ASSERT_EQ(c.previous.size(), 4u);
  EXPECT_EQ(c.previous[0].role, "system");
  EXPECT_EQ(c.previous[0].content, qodo::kChineseInstruction);
  EXPECT_EQ(c.previous[1].content, "%E4%B8%8A%E4%B8%80%E4%B8%AA");
}

TEST(ChineseTransform, OnlyTheFirstSystemTurnCarriesTheInstruction) {
  qodo::ChatTurns c{"问", {{"system", "a"}, {"system", "b c"}}};
  qodo::applyChineseTransform(c);
  EXPECT_EQ(c.previous[0].content, std::string(qodo::kChineseInstruction) + "\n\na");
  EXPECT_EQ(c.previous[1].content, "b+c");
}

TEST(ChineseTransform, TheAddedTextHoldsNoCjkSoTheBackendCannotRefuseIt) {
  EXPECT_FALSE(containsCjk(qodo::kChineseInstruction));
  EXPECT_FALSE(containsCjk(qodo::kChineseConfirmQuestion));
  EXPECT_FALSE(containsCjk(qodo::kChineseConfirmAnswer));
  qodo::ChatTurns c{"中文", {{"system", "系统"}, {"assistant", "回答"}}};
  qodo::applyChineseTransform(c);
  EXPECT_FALSE(qodo::needsChineseTransform(c));
}

TEST(ChineseTransform, InstructionCoversEveryPointOfTheProtocol) {
  const std::string text(qodo::kChineseInstruction);
  EXPECT_NE(text.find("Simplified Chinese"), std::string::npos);
  EXPECT_NE(text.find("URL-encoded"), std::string::npos);
  EXPECT_NE(text.find("Decode"), std::string::npos);
  EXPECT_NE(text.find("plain"), std::string::npos);
  EXPECT_NE(text.find("Never mention"), std::string::npos);
}

TEST(ChineseTransform, EnglishConversationsAreNotSelected) {
  qodo::ChatTurns c{"hello", {{"system", "Be brief."}, {"assistant", "Hi!"}}};
  EXPECT_FALSE(qodo::needsChineseTransform(c));
}

}  // namespace

// Eight bytes without a three- or four-byte lead are skipped at once: a Han character found at
// every position of a long Latin text, and none found in long texts of two-byte letters.
TEST(ContainsCjk, FindsOneHanCharacterAtEveryPositionOfALongText) {
  const std::string latin(37, 'x');
  for (size_t at = 0; at <= latin.size(); ++at) {
    std::string text = latin;
    text.insert(at, "\xE4\xB8\xAD");  // 中
    EXPECT_TRUE(containsCjk(text)) << at;
    text = latin;
    text.insert(at, "\xC3\xA9\xD0\x96");  // é Ж
    EXPECT_FALSE(containsCjk(text)) << at;
  }
  EXPECT_FALSE(containsCjk(std::string(1000, 'a') + "\xE4\xB8"));  // cut short at the end
}
