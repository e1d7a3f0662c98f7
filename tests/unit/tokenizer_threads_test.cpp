// Many threads count and encode at once (every worker of the gateway does): same answers as one
// thread, and the first calls racing to load the tables are safe.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using tokenizer::Encoding;

TEST(Tokenizer, GivesTheSameAnswersFromManyThreadsAtOnce) {
  const std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog. Don't panic!",
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",
      "for (int i = 0; i < n; ++i) {\n    total += v[i];\n}\n",
      std::string(5000, ' ') + "x" + std::string(300, 'a'),
  };
  // The threads start before anything is loaded, so they also race on the first load.
  constexpr int kThreads = 8;
  std::vector<std::vector<size_t>> counts(kThreads);
  std::vector<std::vector<std::vector<uint32_t>>> ids(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < 20; ++round) {
        for (const std::string& text : texts) {
          for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
            counts[t].push_back(tokenizer::countTokens(e, text));
            ids[t].push_back(tokenizer::encode(e, text));
          }
        }
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();

  std::vector<size_t> wantCounts;
  std::vector<std::vector<uint32_t>> wantIds;
  for (int round = 0; round < 20; ++round) {
    for (const std::string& text : texts) {
      for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
        wantCounts.push_back(tokenizer::countTokens(e, text));
        wantIds.push_back(tokenizer::encode(e, text));
      }
    }
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(counts[t], wantCounts);
    EXPECT_EQ(ids[t], wantIds);
  }
  EXPECT_EQ(wantCounts[0], 14u);
}

TEST(Tokenizer, WarmUpIsIdempotent) {
  tokenizer::warmUp();
  tokenizer::warmUp();
  EXPECT_EQ(tokenizer::countTokens(Encoding::kO200kBase, "hello world"), 2u);
}

}  // namespace
