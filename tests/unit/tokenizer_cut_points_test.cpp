// Cutting a piece's byte-pair merging at the boundaries no token spans (cut_points.h) gives the
// tokens of merging the whole piece: tokenizer::encode against a reference that merges every
// piece whole, on generated texts full of multi-byte characters and of the vocabulary's own
// tokens that lie across two of them (so spanned boundaries are common, not luck).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/byte_pair.h"
#include "tokenizer/cut_points.h"
#include "tokenizer/fast_splitter.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using tokenizer::Encoding;
using tokenizer::detail::BytePairMerger;
using tokenizer::detail::CutPoints;
using tokenizer::detail::FastSplitter;
using tokenizer::detail::RankTable;

bool isContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

struct Vocabulary {
  Vocabulary(tokenizer::detail::RankData data, Encoding e) : encoding(e), ranks(data), cuts(ranks) {
    for (uint32_t rank = 0; rank < ranks.size(); ++rank) {
      const std::string token(ranks.token(rank));
      for (size_t j = 1; j < token.size(); ++j) {
        if (static_cast<unsigned char>(token[j]) >= 0xC0 &&
            isContinuation(static_cast<unsigned char>(token[j - 1]))) {
          spanning.push_back(token);
          break;
        }
      }
    }
  }
  Encoding encoding;
  RankTable ranks;
  CutPoints cuts;
  std::vector<std::string> spanning;  // tokens with a boundary of two multi-byte characters
};

Vocabulary& vocabulary(Encoding encoding) {
  if (encoding == Encoding::kCl100kBase) {
    static Vocabulary cl(tokenizer::detail::cl100kBaseRanks(), encoding);
    return cl;
  }
  static Vocabulary o(tokenizer::detail::o200kBaseRanks(), encoding);
  return o;
}

// Token ids of `text` (well-formed) with every piece merged whole, or — `cutEverywhere` —
// with every boundary of two multi-byte characters cut, right or wrong.
std::vector<uint32_t> reference(Vocabulary& v, std::string_view text, bool cutEverywhere) {
  BytePairMerger merger(v.ranks);
  std::vector<uint32_t> ids;
  auto mergeWhole = [&](std::string_view part) {
    const auto bounds = merger.split(part);
    for (size_t i = 0; i + 1 < bounds.size(); ++i)
      ids.push_back(v.ranks.rank(part.substr(bounds[i], bounds[i + 1] - bounds[i])));
  };
  FastSplitter::Cursor cursor(v.encoding, text);
  std::string_view piece;
  while (cursor.next(piece)) {
    if (!cutEverywhere) {
      mergeWhole(piece);
      continue;
    }
    size_t start = 0;
    for (size_t at = 1; at < piece.size(); ++at) {
      const auto byte = static_cast<unsigned char>(piece[at]);
      if (byte >= 0xC0 && isContinuation(static_cast<unsigned char>(piece[at - 1]))) {
        mergeWhole(piece.substr(start, at - start));
        start = at;
      }
    }
    mergeWhole(piece.substr(start));
  }
  return ids;
}

// Characters of several scripts (2-, 3- and 4-byte UTF-8), some ASCII, and tokens of the
// vocabulary that span two multi-byte characters, whole or cut short at either end.
std::string generate(std::mt19937& random, const Vocabulary& v) {
  static const std::vector<std::pair<uint32_t, uint32_t>> blocks = {
      {0x4E00, 0x9FFF}, {0x3040, 0x30FF}, {0xAC00, 0xD7A3}, {0x0400, 0x04FF},
      {0x0370, 0x03FF}, {0x0600, 0x06FF}, {0x00C0, 0x00FF}, {0x1F300, 0x1F64F},
      {0x3000, 0x303F}, {0xFF00, 0xFFEF}, {0x0E00, 0x0E7F}, {0x0900, 0x097F}};
  // Frequent Chinese characters, so pairs that tokens cover come up.
  static const std::vector<std::string> common = {
      "的", "是", "在", "人", "一", "有", "我", "他", "这", "中", "国", "大", "了", "和", "不",
      "们", "学", "生", "以", "时", "到", "说", "会", "可", "为", "子", "工", "作", "能", "技"};
  std::string text;
  const size_t length = 1 + random() % 60;
  for (size_t i = 0; i < length; ++i) {
    const uint32_t pick = random() % 100;
    if (pick < 35) {
      text += common[random() % common.size()];
    } else if (pick < 65) {
      const auto& [low, high] = blocks[random() % blocks.size()];
      uint32_t cp = low + random() % (high - low + 1);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x4E00;
      text += tokenizer::detail::encodeUtf8(cp);
    } else if (pick < 90) {
      const std::string& token = v.spanning[random() % v.spanning.size()];
      const size_t from = random() % 4 == 0 ? random() % token.size() : 0;
      const size_t to =
          random() % 4 == 0 ? from + 1 + random() % (token.size() - from) : token.size();
      text += token.substr(from, to - from);
    } else {
      text += " ,.a1\n"[random() % 6];
    }
  }
  return tokenizer::detail::toWellFormed(text);
}

void expectCutsChangeNothing(Encoding encoding, unsigned seed) {
  Vocabulary& v = vocabulary(encoding);
  ASSERT_GT(v.cuts.pairCount(), 100u);
  ASSERT_GT(v.spanning.size(), 100u);
  std::mt19937 random(seed);
  int wrongWhenCutEverywhere = 0;
  constexpr int kTexts = 20000;
  for (int i = 0; i < kTexts; ++i) {
    const std::string text = generate(random, v);
    const auto expected = reference(v, text, false);
    ASSERT_EQ(tokenizer::encode(encoding, text), expected) << text;
    ASSERT_EQ(tokenizer::countTokens(encoding, text), expected.size()) << text;
    if (reference(v, text, true) != expected) ++wrongWhenCutEverywhere;
  }
  // The texts do meet spanned boundaries: cutting at all of them would get many wrong.
  EXPECT_GT(wrongWhenCutEverywhere, kTexts / 20);
}

TEST(CutPoints, EncodeEqualsMergingWholePiecesCl100k) {
  expectCutsChangeNothing(Encoding::kCl100kBase, 11);
}

TEST(CutPoints, EncodeEqualsMergingWholePiecesO200k) {
  expectCutsChangeNothing(Encoding::kO200kBase, 12);
}

TEST(CutPoints, CutsARunOfHanCharactersOnlyWhereNoTokenSpans) {
  Vocabulary& v = vocabulary(Encoding::kCl100kBase);
  const std::string run = "人工智能是计算机科学的一个分支";
  std::vector<std::string> parts;
  v.cuts.forEachPart(run, [&](std::string_view part) { parts.emplace_back(part); });
  std::string joined;
  for (const auto& part : parts) joined += part;
  EXPECT_EQ(joined, run);
  EXPECT_GT(parts.size(), 5u);  // mostly single characters
  // Every boundary between two parts is one no token spans; every other one, some token may.
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto* left = reinterpret_cast<const unsigned char*>(parts[i].data());
    const auto* right = reinterpret_cast<const unsigned char*>(parts[i + 1].data());
    EXPECT_FALSE(v.cuts.spanned(left + parts[i].size() - 3, 3, right, 3));
  }
  // A pair that is a token of its own is never cut.
  const std::string pair = "\xe4\xb8\xad\xe5\x9b\xbd";  // 中国
  ASSERT_NE(v.ranks.rank(pair), RankTable::kNoRank);
  const auto* p = reinterpret_cast<const unsigned char*>(pair.data());
  EXPECT_TRUE(v.cuts.spanned(p, 3, p + 3, 3));
}

}  // namespace
