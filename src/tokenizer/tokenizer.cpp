#include "tokenizer/tokenizer.h"

#include <cstring>
#include <span>
#include <string>

#include "tokenizer/byte_pair.h"
#include "tokenizer/cut_points.h"
#include "tokenizer/fast_splitter.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/utf8.h"

namespace tokenizer {
namespace {

using detail::BytePairMerger;
using detail::CutPoints;
using detail::FastSplitter;
using detail::RankTable;

struct Model {
  Model(detail::RankData data, Encoding e) : ranks(data), cuts(ranks), encoding(e) {}
  RankTable ranks;
  CutPoints cuts;
  Encoding encoding;
};

// Built on first use (C++ guarantees one thread builds it while others wait), immutable after.
const Model& model(Encoding encoding) {
  if (encoding == Encoding::kCl100kBase) {
    static const Model cl100k(detail::cl100kBaseRanks(), Encoding::kCl100kBase);
    return cl100k;
  }
  static const Model o200k(detail::o200kBaseRanks(), Encoding::kO200kBase);
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

bool hasNonAscii(std::string_view piece) {
  size_t at = 0;
  for (; at + 8 <= piece.size(); at += 8) {
    uint64_t word;
    std::memcpy(&word, piece.data() + at, 8);
    if (word & 0x8080808080808080ull) return true;
  }
  for (; at < piece.size(); ++at) {
    if (static_cast<unsigned char>(piece[at]) >= 0x80) return true;
  }
  return false;
}

// The tokens of a piece that is not one token itself: `onPart(part, bounds)` for each part of it
// between cut points (cut_points.h), in order, with the part's token boundaries as
// BytePairMerger::split gives them (relative to the part).
template <typename OnPart>
void mergePiece(const Model& m, std::string_view piece, BytePairMerger& merger, OnPart&& onPart) {
  if (!hasNonAscii(piece)) {
    onPart(piece, merger.split(piece));
    return;
  }
  m.cuts.forEachPart(piece, [&](std::string_view part) {
    // The whole piece is known not to be one token; a shorter part often is.
    if (part.size() < piece.size() && m.ranks.rank(part) != RankTable::kNoRank) {
      const uint32_t bounds[] = {0, static_cast<uint32_t>(part.size())};
      onPart(part, std::span<const uint32_t>(bounds));
    } else {
      onPart(part, merger.split(part));
    }
  });
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
      mergePiece(m, piece, merger, [&](std::string_view, std::span<const uint32_t> bounds) {
        count += bounds.size() - 1;
      });
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
    mergePiece(m, piece, merger, [&](std::string_view part, std::span<const uint32_t> bounds) {
      for (size_t i = 0; i + 1 < bounds.size(); ++i) {
        ids.push_back(m.ranks.rank(part.substr(bounds[i], bounds[i + 1] - bounds[i])));
      }
    });
  });
  return ids;
}

void warmUp() {
  model(Encoding::kCl100kBase);
  model(Encoding::kO200kBase);
}

}  // namespace tokenizer
