// BPE merging of single pieces: both merge strategies give tiktoken's result, and long runs of
// one character stay fast (a client can send megabytes of "aaaa…").
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "sanitized_build.h"
#include "tokenizer/byte_pair.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/tokenizer.h"

namespace {

using tokenizer::Encoding;
using tokenizer::detail::BytePairMerger;
using tokenizer::detail::RankTable;

const RankTable& cl100k() {
  static const RankTable table(tokenizer::detail::cl100kBaseRanks());
  return table;
}

const RankTable& o200k() {
  static const RankTable table(tokenizer::detail::o200kBaseRanks());
  return table;
}

std::vector<uint32_t> toVector(std::span<const uint32_t> bounds) {
  return {bounds.begin(), bounds.end()};
}

TEST(RankTable, FindsEveryTokenUnderItsOwnRank) {
  for (const RankTable* table : {&cl100k(), &o200k()}) {
    for (uint32_t rank = 0; rank < table->size(); ++rank) {
      ASSERT_EQ(table->rank(table->token(rank)), rank);
    }
  }
  EXPECT_EQ(cl100k().size(), 100256u);
  EXPECT_EQ(o200k().size(), 199998u);
}

TEST(RankTable, AnswersNoRankForBytesThatAreNoToken) {
  EXPECT_EQ(cl100k().rank("qzxqzxqzxqzx"), RankTable::kNoRank);
  EXPECT_EQ(cl100k().rank(std::string(300, 'x')), RankTable::kNoRank);
  EXPECT_EQ(o200k().rank(std::string("\xff\xfe\xfd", 3)), RankTable::kNoRank);
}

TEST(RankTable, GivesEveryByteAndKnownPairsTheirRank) {
  EXPECT_EQ(cl100k().byteRank('!'), 0u);
  EXPECT_EQ(cl100k().rank(" world"), 1917u);
  EXPECT_EQ(cl100k().pairRank(' ', 't'), cl100k().rank(" t"));
  EXPECT_EQ(o200k().pairRank('q', 'z'), o200k().rank("qz"));
}

TEST(BytePairMerger, ScanAndQueueAgreeOnRandomPieces) {
  std::mt19937 random(7);
  const std::string alphabet = "aaabcdeeefghiiijklmnooopqrstuuuvwxyz  ..,\xe4\xb8\xad\xe6\x96\x87";
  for (const RankTable* table : {&cl100k(), &o200k()}) {
    BytePairMerger scan(*table);
    BytePairMerger queue(*table);
    for (int round = 0; round < 2000; ++round) {
      std::string piece;
      const size_t length = 1 + random() % 200;
      while (piece.size() < length) piece += alphabet[random() % alphabet.size()];
      ASSERT_EQ(toVector(scan.splitByScan(piece)), toVector(queue.splitByQueue(piece))) << piece;
    }
  }
}

TEST(BytePairMerger, ScanAndQueueAgreeOnRunsOfOneCharacter) {
  for (const RankTable* table : {&cl100k(), &o200k()}) {
    BytePairMerger merger(*table);
    for (const std::string unit : {"a", "=", " ", "ab", "\xe5\x93\x88", "\xf0\x9f\x98\x80"}) {
      std::string piece;
      for (int i = 0; i < 150; ++i) {
        piece += unit;
        const auto byScan = toVector(merger.splitByScan(piece));
        ASSERT_EQ(byScan, toVector(merger.splitByQueue(piece))) << piece;
      }
    }
  }
}

TEST(BytePairMerger, SplitsAPieceIntoTokensThatCoverItInOrder) {
  BytePairMerger merger(cl100k());
  const std::string piece = "antidisestablishmentarianism";
  const auto bounds = toVector(merger.split(piece));
  ASSERT_GE(bounds.size(), 3u);
  EXPECT_EQ(bounds.front(), 0u);
  EXPECT_EQ(bounds.back(), piece.size());
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    EXPECT_LT(bounds[i], bounds[i + 1]);
    EXPECT_NE(cl100k().rank(piece.substr(bounds[i], bounds[i + 1] - bounds[i])),
              RankTable::kNoRank);
  }
}

TEST(Tokenizer, CountsALongRunOfOneLetterWithoutQuadraticTime) {
  const std::string text(1 << 18, 'a');
  const auto start = std::chrono::steady_clock::now();
  const size_t cl = tokenizer::countTokens(Encoding::kCl100kBase, text);
  const size_t o = tokenizer::countTokens(Encoding::kO200kBase, text);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Far fewer tokens than bytes (runs merge), and no quadratic blow-up.
  EXPECT_GT(cl, 1000u);
  EXPECT_LT(cl, text.size() / 4);
  EXPECT_GT(o, 1000u);
  EXPECT_LT(o, text.size() / 4);
  EXPECT_LT(elapsed, std::chrono::seconds(5) * kSanitizerSlowdown);
}

TEST(Tokenizer, CountsLongRunsOfSpacesPunctuationAndNewlinesWithoutQuadraticTime) {
  const auto start = std::chrono::steady_clock::now();
  for (const char c : {' ', '=', '\n'}) {
    const std::string text = "x" + std::string(1 << 18, c) + "x";
    EXPECT_GT(tokenizer::countTokens(Encoding::kCl100kBase, text), 2u);
    EXPECT_GT(tokenizer::countTokens(Encoding::kO200kBase, text), 2u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5) * kSanitizerSlowdown);
}

}  // namespace
