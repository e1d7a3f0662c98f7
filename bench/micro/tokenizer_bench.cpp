// Throughput of tokenizer::countTokens and tokenizer::encode on ~100 KB of English, Chinese and
// source code, the same texts scripts/tokenizer/bench.mjs gives the npm tiktoken (WASM).
// Part of micro_bench (bench/CMakeLists.txt); scripts/bench runs both and compares.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/byte_pair.h"
#include "tokenizer/piece_splitter.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/tokenizer.h"

namespace {

using tokenizer::Encoding;

std::filesystem::path corpusDir() {
  if (const char* source = std::getenv("QODO_SOURCE_DIR"); source && *source) {
    return std::filesystem::path(source) / "tests/data/tokenizer/corpus";
  }
#ifdef QODO_BENCH_SOURCE_DIR
  return std::filesystem::path(QODO_BENCH_SOURCE_DIR) / "tests/data/tokenizer/corpus";
#else
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
         "tests/data/tokenizer/corpus";
#endif
}

// Whole copies of the files until the text reaches 100 KiB, as bench.mjs does.
std::string sample(const std::vector<std::string>& files) {
  std::string one;
  for (const auto& file : files) {
    std::ifstream in(corpusDir() / file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    one += bytes.str();
  }
  std::string text;
  while (!one.empty() && text.size() < 100 * 1024) text += one;
  return text;
}

const std::string& text(int kind) {
  static const std::string english = sample({"english.txt"});
  static const std::string chinese = sample({"chinese.txt"});
  static const std::string code = sample({"code.cpp.txt", "code.py.txt", "code.js.txt"});
  return kind == 0 ? english : kind == 1 ? chinese : code;
}

const char* kKindNames[] = {"english", "chinese", "code"};

void countTokens(benchmark::State& state) {
  const auto encoding = static_cast<Encoding>(state.range(0));
  const std::string& input = text(static_cast<int>(state.range(1)));
  tokenizer::warmUp();
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer::countTokens(encoding, input));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetLabel(kKindNames[state.range(1)]);
}

void encode(benchmark::State& state) {
  const auto encoding = static_cast<Encoding>(state.range(0));
  const std::string& input = text(static_cast<int>(state.range(1)));
  tokenizer::warmUp();
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer::encode(encoding, input));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetLabel(kKindNames[state.range(1)]);
}

// The previous tokenizer, for a same-run comparison (issue 14): the PCRE2 pre-tokenizer
// (tiktoken's regex, JIT-compiled) and byte-pair merging of every piece whole (no cut points),
// counting as countTokens did when the issue was filed.
size_t countWithRegex(Encoding encoding, const std::string& input) {
  using namespace tokenizer::detail;
  static const RankTable cl100k(cl100kBaseRanks());
  static const RankTable o200k(o200kBaseRanks());
  static const PieceSplitter cl100kSplitter(Encoding::kCl100kBase);
  static const PieceSplitter o200kSplitter(Encoding::kO200kBase);
  const bool cl = encoding == Encoding::kCl100kBase;
  const RankTable& ranks = cl ? cl100k : o200k;
  BytePairMerger merger(ranks);
  PieceSplitter::Cursor cursor(cl ? cl100kSplitter : o200kSplitter, input);
  std::string_view piece;
  size_t count = 0;
  while (cursor.next(piece)) {
    if (piece.size() == 1 || ranks.rank(piece) != RankTable::kNoRank)
      ++count;
    else
      count += merger.split(piece).size() - 1;
  }
  return count;
}

void countTokensRegex(benchmark::State& state) {
  const auto encoding = static_cast<Encoding>(state.range(0));
  const std::string& input = text(static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(countWithRegex(encoding, input));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetLabel(kKindNames[state.range(1)]);
}

// The two, interleaved within each iteration so the machine's noise falls on both alike:
// counter `speedup` = time of the previous tokenizer ÷ time of today's, same text, same run.
void countTokensSpeedup(benchmark::State& state) {
  const auto encoding = static_cast<Encoding>(state.range(0));
  const std::string& input = text(static_cast<int>(state.range(1)));
  tokenizer::warmUp();
  if (tokenizer::countTokens(encoding, input) != countWithRegex(encoding, input))
    state.SkipWithError("the two tokenizers disagree");
  double fast = 0, regex = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(tokenizer::countTokens(encoding, input));
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(countWithRegex(encoding, input));
    const auto t2 = std::chrono::steady_clock::now();
    fast += std::chrono::duration<double>(t1 - t0).count();
    regex += std::chrono::duration<double>(t2 - t1).count();
  }
  state.counters["speedup"] = regex / fast;
  state.counters["MBps"] = static_cast<double>(state.iterations() * input.size()) / fast / 1e6;
  state.counters["regexMBps"] =
      static_cast<double>(state.iterations() * input.size()) / regex / 1e6;
  state.SetLabel(kKindNames[state.range(1)]);
}

// Args: {encoding (0 cl100k_base, 1 o200k_base), text (0 english, 1 chinese, 2 code)}.
BENCHMARK(countTokens)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(encode)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(countTokensRegex)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(countTokensSpeedup)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);

}  // namespace
