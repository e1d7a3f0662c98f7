// Throughput of tokenizer::countTokens and tokenizer::encode on ~100 KB of English, Chinese and
// source code, the same texts scripts/tokenizer/bench.mjs gives the npm tiktoken (WASM).
// Part of micro_bench (bench/CMakeLists.txt); scripts/bench runs both and compares.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// Args: {encoding (0 cl100k_base, 1 o200k_base), text (0 english, 1 chinese, 2 code)}.
BENCHMARK(countTokens)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(encode)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);

}  // namespace
