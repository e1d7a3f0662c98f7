// tokenizer::encode / countTokens on any bytes, for both encodings: no crash, the count is the
// number of ids, every id is a token of the table, and decoding the ids through the rank table
// gives back the text exactly (after ill-formed UTF-8 became U+FFFD, as tokenizer.h says); and
// the hand-written pre-tokenizer cuts the text into the pieces the PCRE2 one (tiktoken's regex)
// does; and the ids are those of merging every piece whole (the cut points change nothing).
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tokenizer/byte_pair.h"
#include "tokenizer/fast_splitter.h"
#include "tokenizer/piece_splitter.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/utf8.h"

using tokenizer::Encoding;
using tokenizer::detail::RankTable;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const RankTable cl100k(tokenizer::detail::cl100kBaseRanks());
  static const RankTable o200k(tokenizer::detail::o200kBaseRanks());
  fuzz::Reader in(data, size);
  const bool useO200k = in.byte() & 1;
  const Encoding encoding = useO200k ? Encoding::kO200kBase : Encoding::kCl100kBase;
  const RankTable& table = useO200k ? o200k : cl100k;
  const std::string_view text = in.rest();

  const auto ids = tokenizer::encode(encoding, text);
  FUZZ_CHECK(tokenizer::countTokens(encoding, text) == ids.size());
  std::string decoded;
  for (const uint32_t id : ids) {
    FUZZ_CHECK(id < table.size());
    decoded += table.token(id);
  }
  const std::string wellFormed = tokenizer::detail::toWellFormed(text);
  FUZZ_CHECK(fuzz::validUtf8(wellFormed));
  FUZZ_CHECK(decoded == wellFormed);
  if (fuzz::validUtf8(text)) FUZZ_CHECK(wellFormed == text);
  FUZZ_CHECK(ids.empty() == text.empty());

  static const tokenizer::detail::PieceSplitter cl100kRegex(Encoding::kCl100kBase);
  static const tokenizer::detail::PieceSplitter o200kRegex(Encoding::kO200kBase);
  tokenizer::detail::PieceSplitter::Cursor regex(useO200k ? o200kRegex : cl100kRegex, wellFormed);
  tokenizer::detail::FastSplitter::Cursor fast(encoding, wellFormed);
  tokenizer::detail::BytePairMerger merger(table);
  std::vector<uint32_t> whole;
  std::string_view want, got;
  for (;;) {
    const bool more = regex.next(want);
    FUZZ_CHECK(fast.next(got) == more);
    if (!more) break;
    FUZZ_CHECK(got.data() == want.data() && got.size() == want.size());
    const auto bounds = merger.split(want);
    for (size_t i = 0; i + 1 < bounds.size(); ++i)
      whole.push_back(table.rank(want.substr(bounds[i], bounds[i + 1] - bounds[i])));
  }
  FUZZ_CHECK(whole == ids);
  return 0;
}
