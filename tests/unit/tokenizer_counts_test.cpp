// Pins the tokenizer to the reference: the ids and counts the npm package tiktoken gives for
// every corpus file (tests/data/tokenizer/expected.txt, made by scripts/tokenizer/expected.mjs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using tokenizer::Encoding;

std::filesystem::path dataDir() {
  if (const char* source = std::getenv("QODO_SOURCE_DIR"); source && *source) {
    return std::filesystem::path(source) / "tests/data/tokenizer";
  }
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data/tokenizer";
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

struct Case {
  std::string file;
  Encoding encoding;
  size_t count;
  std::vector<uint32_t> ids;
};

std::vector<Case> loadCases() {
  std::ifstream in(dataDir() / "expected.txt");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Case c;
    std::string encoding;
    fields >> c.file >> encoding >> c.count;
    c.encoding = encoding == "cl100k_base" ? Encoding::kCl100kBase : Encoding::kO200kBase;
    for (uint32_t id; fields >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

// Where two id sequences part, to make a failure readable.
std::string firstDifference(const std::vector<uint32_t>& got, const std::vector<uint32_t>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  std::ostringstream out;
  out << "first difference at token " << i << " of " << want.size() << ": got ";
  for (size_t j = i; j < got.size() && j < i + 5; ++j) out << got[j] << ' ';
  out << "want ";
  for (size_t j = i; j < want.size() && j < i + 5; ++j) out << want[j] << ' ';
  return out.str();
}

TEST(TiktokenReference, CoversEveryCorpusFileInBothEncodings) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dataDir() / "corpus")) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  EXPECT_GE(files, 10u);
  EXPECT_EQ(loadCases().size(), 2 * files) << "run scripts/tokenizer/expected.mjs again";
}

TEST(TiktokenReference, EncodeGivesTiktokensIdsForEveryCorpusFile) {
  for (const Case& c : loadCases()) {
    SCOPED_TRACE(c.file + (c.encoding == Encoding::kCl100kBase ? " cl100k_base" : " o200k_base"));
    const std::string text = readFile(dataDir() / "corpus" / c.file);
    const std::vector<uint32_t> ids = tokenizer::encode(c.encoding, text);
    EXPECT_EQ(ids.size(), c.ids.size());
    EXPECT_TRUE(ids == c.ids) << firstDifference(ids, c.ids);
  }
}

TEST(TiktokenReference, CountTokensGivesTiktokensCountForEveryCorpusFile) {
  for (const Case& c : loadCases()) {
    SCOPED_TRACE(c.file + (c.encoding == Encoding::kCl100kBase ? " cl100k_base" : " o200k_base"));
    const std::string text = readFile(dataDir() / "corpus" / c.file);
    EXPECT_EQ(tokenizer::countTokens(c.encoding, text), c.count);
  }
}

TEST(TiktokenReference, KnownSentencesHaveTheirPublishedIds) {
  // The classic tiktoken README example, independent of the data files.
  EXPECT_EQ(tokenizer::encode(Encoding::kCl100kBase, "hello world"),
            (std::vector<uint32_t>{15339, 1917}));
  EXPECT_EQ(tokenizer::encode(Encoding::kO200kBase, "hello world"),
            (std::vector<uint32_t>{24912, 2375}));
  EXPECT_EQ(tokenizer::countTokens(Encoding::kCl100kBase, ""), 0u);
  EXPECT_TRUE(tokenizer::encode(Encoding::kO200kBase, "").empty());
}

TEST(TiktokenReference, SpecialTokenTextIsCountedAsPlainText) {
  EXPECT_EQ(tokenizer::countTokens(Encoding::kCl100kBase, "<|endoftext|>"), 7u);
  const auto ids = tokenizer::encode(Encoding::kO200kBase, "<|endoftext|>");
  for (uint32_t id : ids) EXPECT_LT(id, 199998u) << "no special token id";
  EXPECT_GT(ids.size(), 1u);
}

}  // namespace
