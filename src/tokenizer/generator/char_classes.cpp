// Build-time generator of the pre-tokenizer's character classes (tokenizer/char_classes.h): asks
// PCRE2 — the engine whose reading of tiktoken's split patterns the corpus tests pin — which of
// the patterns' classes every code point belongs to, and writes them as a two-level table
// (blocks of 256 code points, identical blocks shared). The hand-written splitter then reads
// \p{L}, \p{N}, \s and the rest exactly as the regex did, without running it.
//
// usage: char_classes_gen <output.cpp>
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tokenizer/utf8.h"

namespace {

// Must match tokenizer/char_classes.h.
constexpr const char* kClasses[] = {
    R"(\A\p{L}\z)",                            // 1: letter
    R"(\A\p{N}\z)",                            // 2: number
    R"(\A\s\z)",                               // 4: white space (PCRE2 UCP)
    R"(\A[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]\z)",  // 8: o200k's upper-case side
    R"(\A[\p{Ll}\p{Lm}\p{Lo}\p{M}]\z)",        // 16: o200k's lower-case side
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output.cpp>\n", argv[0]);
    return 2;
  }
  std::vector<pcre2_code*> codes;
  for (const char* pattern : kClasses) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    if (code == nullptr) {
      std::fprintf(stderr, "char_classes_gen: %s does not compile\n", pattern);
      return 1;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    codes.push_back(code);
  }
  pcre2_match_data* match = pcre2_match_data_create(4, nullptr);

  constexpr uint32_t kCodePoints = 0x110000;
  std::vector<uint8_t> classes(kCodePoints, 0);
  for (uint32_t cp = 0; cp < kCodePoints; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // not encodable: never in well-formed text
    const std::string text = tokenizer::detail::encodeUtf8(cp);
    for (size_t c = 0; c < codes.size(); ++c) {
      const int rc = pcre2_match(codes[c], reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                                 0, 0, match, nullptr);
      if (rc > 0) classes[cp] |= static_cast<uint8_t>(1u << c);
    }
  }

  std::map<std::array<uint8_t, 256>, uint16_t> blockIds;
  std::vector<std::array<uint8_t, 256>> blocks;
  std::vector<uint16_t> stage1;
  for (uint32_t b = 0; b < kCodePoints / 256; ++b) {
    std::array<uint8_t, 256> block;
    for (int i = 0; i < 256; ++i) block[i] = classes[b * 256 + i];
    auto [it, added] = blockIds.try_emplace(block, static_cast<uint16_t>(blocks.size()));
    if (added) blocks.push_back(block);
    stage1.push_back(it->second);
  }

  std::ofstream out(argv[1]);
  out << "// Generated at build time by src/tokenizer/generator/char_classes.cpp from PCRE2 "
      << "(do not edit).\n#include \"tokenizer/char_classes.h\"\n\nnamespace tokenizer::detail "
         "{\n\n"
      << "const uint16_t kClassBlockOf[" << stage1.size() << "] = {";
  for (size_t i = 0; i < stage1.size(); ++i)
    out << (i == 0 ? "\n" : i % 32 ? "," : ",\n") << stage1[i];
  out << "};\n\nconst uint8_t kClassBlocks[" << blocks.size() << "][256] = {";
  for (const auto& block : blocks) {
    out << "\n{";
    for (int i = 0; i < 256; ++i) out << (i ? "," : "") << int(block[i]);
    out << "},";
  }
  out << "};\n\n}  // namespace tokenizer::detail\n";
  for (auto* code : codes) pcre2_code_free(code);
  pcre2_match_data_free(match);
  return out ? 0 : 1;
}
