#include "tokenizer/tokenizer.h"

#include <string>

#include "tokenizer/byte_pair.h"
#include "tokenizer/fast_splitter.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/utf8.h"

namespace tokenizer {
namespace {

using detail::BytePairMerger;
using detail::FastSplitter;
using detail::RankTable;

struct Model {
  RankTable ranks;
  Encoding encoding;
};

// Built on first use (C++ guarantees one thread builds it while others wait), immutable after.
const Model& model(Encoding encoding) {
  if (encoding == Encoding::kCl100kBase) {
    static const Model cl100k{RankTable(detail::cl100kBaseRanks()), Encoding::kCl100kBase};
    return cl100k;
  }
  static const Model o200k{RankTable(detail::o200kBaseRanks()), Encoding::kO200kBase};
  return o200k;
}

// Runs `onPiece(piece, merger)` for every pre-token of `text`, after making it well-formed.
template <typename OnPiece>
void forEachPiece(const Model& m, std::string_view text, OnPiece&& onPiece) {
  std::string repaired;
  if (detail::wellFormedPrefix(text) != text.size()) {
    repaired = detail::toWellFormed(text);
    text = repaired;
  }
  BytePairMerger merger(m.ranks);
  FastSplitter::Cursor cursor(m.encoding, text);
  std::string_view piece;
  while (cursor.next(piece)) onPiece(piece, merger);
}

}  // namespace

size_t countTokens(Encoding encoding, std::string_view text) {
  const Model& m = model(encoding);
  size_t count = 0;
  forEachPiece(m, text, [&](std::string_view piece, BytePairMerger& merger) {
    // Most pieces are one token: a single byte always is, and a whole word often is.
    if (piece.size() == 1 || m.ranks.rank(piece) != RankTable::kNoRank) {
      ++count;
    } else {
      count += merger.split(piece).size() - 1;
    }
  });
  return count;
}

std::vector<uint32_t> encode(Encoding encoding, std::string_view text) {
  const Model& m = model(encoding);
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  forEachPiece(m, text, [&](std::string_view piece, BytePairMerger& merger) {
    if (piece.size() == 1) {
      ids.push_back(m.ranks.byteRank(static_cast<unsigned char>(piece[0])));
      return;
    }
    if (const uint32_t whole = m.ranks.rank(piece); whole != RankTable::kNoRank) {
      ids.push_back(whole);
      return;
    }
    const auto bounds = merger.split(piece);
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      ids.push_back(m.ranks.rank(piece.substr(bounds[i], bounds[i + 1] - bounds[i])));
    }
  });
  return ids;
}

void warmUp() {
  model(Encoding::kCl100kBase);
  model(Encoding::kO200kBase);
}

}  // namespace tokenizer
