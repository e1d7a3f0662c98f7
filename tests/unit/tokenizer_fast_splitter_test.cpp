// The hand-written pre-tokenizer against the PCRE2 one it replaces (which the corpus tests pin to
// tiktoken): the same pieces for generated texts mixing every class the split patterns name —
// contractions in any case (long s included), letters of every kind, marks, digits of every
// kind, white space of every kind (NEL, LINE SEPARATOR, NO-BREAK SPACE), line breaks, slashes,
// punctuation, emoji — and for every code point between letters and after a space.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/fast_splitter.h"
#include "tokenizer/piece_splitter.h"
#include "tokenizer/utf8.h"

namespace {

using tokenizer::Encoding;
using tokenizer::detail::FastSplitter;
using tokenizer::detail::PieceSplitter;

std::vector<std::string> pieces(const PieceSplitter& regex, std::string_view text) {
  std::vector<std::string> out;
  PieceSplitter::Cursor cursor(regex, text);
  std::string_view piece;
  while (cursor.next(piece)) out.emplace_back(piece);
  return out;
}

std::vector<std::string> pieces(Encoding encoding, std::string_view text) {
  std::vector<std::string> out;
  FastSplitter::Cursor cursor(encoding, text);
  std::string_view piece;
  while (cursor.next(piece)) out.emplace_back(piece);
  return out;
}

std::string show(const std::vector<std::string>& ps) {
  std::string s;
  for (const auto& p : ps) {
    s += '[';
    for (unsigned char c : p) {
      if (c >= 0x20 && c < 0x7F) {
        s += static_cast<char>(c);
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02X", c);
        s += hex;
      }
    }
    s += ']';
  }
  return s;
}

// Pieces of the generated texts: contractions, words, and single characters of every class.
const std::vector<std::string>& atoms() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> a = {
        "'s",
        "'S",
        "'t",
        "'T",
        "'re",
        "'RE",
        "'Re",
        "'ve",
        "'VE",
        "'m",
        "'M",
        "'ll",
        "'LL",
        "'lL",
        "'d",
        "'D",
        "'",
        "'x",
        "'r",
        "'v",
        "'l",
        "\xC5\xBF",
        "'\xC5\xBF",
        "'\xE2\x84\xAA",
        "hello",
        "World",
        "ABC",
        "camelCase",
        "HTTPServer",
        "x",
        "Q",
        "a",
        " ",
        " ",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "\x0B",
        "\x0C",
        "/",
        "//",
        "1",
        "12",
        "123",
        "1234",
        "3.14",
        "-",
        ".",
        ",",
        "!",
        "?",
        "(",
        ")",
        "{",
        "}",
        "\"",
        "#",
        "_",
        "@",
        "$",
        "%",
        "\xC2\x85",      // U+0085 NEL
        "\xE2\x80\xA8",  // U+2028 LINE SEPARATOR
        "\xE2\x80\xA9",  // U+2029
        "\xC2\xA0",      // U+00A0 NO-BREAK SPACE
        "\xE3\x80\x80",  // U+3000 IDEOGRAPHIC SPACE
        "\xE2\x80\x8B",  // U+200B ZERO WIDTH SPACE (Cf)
        "\xE2\x80\x8D",  // U+200D ZWJ
        "\xC3\xA9",
        "\xC3\x89",  // é É
        "\xCE\xB1\xCE\xB2",
        "\xCE\x91",  // αβ Α
        "\xC7\x85",  // U+01C5 Lt
        "\xCA\xB0",  // U+02B0 Lm
        "\xCC\x81",
        "\xCC\x81\xCC\x81",                  // U+0301 combining acute (Mn)
        "\xE0\xA4\x95\xE0\xA4\xBF",          // क ि (Lo + Mc)
        "\xE4\xB8\xAD\xE6\x96\x87",          // 中文 (Lo)
        "\xE3\x81\x82",                      // あ
        "\xD9\xA3",                          // U+0663 ARABIC-INDIC DIGIT THREE (Nd)
        "\xE2\x85\xA0",                      // U+2160 ROMAN NUMERAL ONE (Nl)
        "\xC2\xB2",                          // U+00B2 SUPERSCRIPT TWO (No)
        "\xF0\x9F\x98\x80",                  // 😀
        "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",  // 👍🏽
        "\xE2\x80\x94",
        "\xE2\x80\x9C",      // — “
        "\xF0\x90\x90\x80",  // U+10400 DESERET CAPITAL (Lu, 4 bytes)
        "\xF0\x90\x90\xA8",  // U+10428 (Ll, 4 bytes)
        "\xEF\xBF\xBD",      // U+FFFD
    };
    return a;
  }();
  return all;
}

void expectSame(Encoding encoding, const PieceSplitter& regex, const std::string& text) {
  const auto want = pieces(regex, text);
  const auto got = pieces(encoding, text);
  ASSERT_EQ(got, want) << "text " << show({text}) << "\n want " << show(want) << "\n got  "
                       << show(got);
}

class FastSplitterTest : public ::testing::TestWithParam<Encoding> {};

TEST_P(FastSplitterTest, GivesThePiecesOfTheRegexOnGeneratedTexts) {
  const PieceSplitter regex(GetParam());
  std::mt19937 random(20261202);
  const auto& a = atoms();
  std::uniform_int_distribution<size_t> pick(0, a.size() - 1);
  std::uniform_int_distribution<int> length(0, 24);
  for (int round = 0; round < 30000; ++round) {
    std::string text;
    for (int k = length(random); k > 0; --k) text += a[pick(random)];
    expectSame(GetParam(), regex, text);
  }
}

TEST_P(FastSplitterTest, GivesThePiecesOfTheRegexForEveryCodePoint) {
  const PieceSplitter regex(GetParam());
  for (uint32_t cp = 1; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string c = tokenizer::detail::encodeUtf8(cp);
    // Between letters, after a space (a word's prefix), before a contraction, and around digits
    // and line breaks: each class decides a different alternative.
    for (const std::string& text : {"a" + c + "b", " " + c, c + "'s", "1" + c + "\n", c + " x"}) {
      const auto want = pieces(regex, text);
      const auto got = pieces(GetParam(), text);
      if (got != want) {
        ADD_FAILURE() << "U+" << std::hex << cp << " in " << show({text}) << "\n want "
                      << show(want) << "\n got  " << show(got);
        return;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothEncodings, FastSplitterTest,
                         ::testing::Values(Encoding::kCl100kBase, Encoding::kO200kBase));

}  // namespace
