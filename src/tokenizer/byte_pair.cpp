#include "tokenizer/byte_pair.h"

#include <algorithm>

namespace tokenizer::detail {
namespace {

// Beyond this many bytes a scan for the lowest pair per merge costs more than a heap.
constexpr size_t kScanLimit = 128;
constexpr uint32_t kNoRank = RankTable::kNoRank;

}  // namespace

uint32_t BytePairMerger::rankOf(std::string_view piece, uint32_t from, uint32_t to) const {
  if (to - from == 2) {
    return ranks_.pairRank(static_cast<unsigned char>(piece[from]),
                           static_cast<unsigned char>(piece[from + 1]));
  }
  return ranks_.rank(piece.substr(from, to - from));
}

std::span<const uint32_t> BytePairMerger::split(std::string_view piece) {
  return piece.size() <= kScanLimit ? splitByScan(piece) : splitByQueue(piece);
}

std::span<const uint32_t> BytePairMerger::splitByScan(std::string_view piece) {
  const auto n = static_cast<uint32_t>(piece.size());
  parts_.clear();
  for (uint32_t i = 0; i + 1 < n; ++i) parts_.push_back({i, rankOf(piece, i, i + 2)});
  parts_.push_back({n - 1, kNoRank});
  parts_.push_back({n, kNoRank});

  // The rank part i would have after merging with part i + 1, i.e. of parts i .. i + 2.
  auto mergedRank = [&](size_t i) {
    return i + 3 < parts_.size() ? rankOf(piece, parts_[i].start, parts_[i + 3].start) : kNoRank;
  };
  for (;;) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts_.size(); ++i) {
      if (parts_[i].rank < best) {
        best = parts_[i].rank;
        at = i;
      }
    }
    if (best == kNoRank) break;
    if (at > 0) parts_[at - 1].rank = mergedRank(at - 1);
    parts_[at].rank = mergedRank(at);
    parts_.erase(parts_.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }

  bounds_.clear();
  for (const Part& part : parts_) bounds_.push_back(part.start);
  return bounds_;
}

std::span<const uint32_t> BytePairMerger::splitByQueue(std::string_view piece) {
  // Parts form a linked list named by their start offset; a queue entry is stale once the
  // version of its part moved on (the part merged, died, or its right neighbour changed).
  const auto n = static_cast<uint32_t>(piece.size());
  next_.resize(n);
  prev_.resize(n);
  version_.assign(n, 0);
  queue_.clear();
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.start > b.start;
  };
  auto offer = [&](uint32_t start, uint32_t rank) {
    if (rank == kNoRank) return;
    queue_.push_back({rank, start, version_[start]});
    std::push_heap(queue_.begin(), queue_.end(), later);
  };
  for (uint32_t i = 0; i < n; ++i) {
    next_[i] = i + 1;
    prev_[i] = i == 0 ? n : i - 1;
    if (i + 1 < n) queue_.push_back({rankOf(piece, i, i + 2), i, 0});
  }
  std::erase_if(queue_, [](const Candidate& c) { return c.rank == kNoRank; });
  std::make_heap(queue_.begin(), queue_.end(), later);

  while (!queue_.empty()) {
    std::pop_heap(queue_.begin(), queue_.end(), later);
    const Candidate best = queue_.back();
    queue_.pop_back();
    const uint32_t at = best.start;
    if (version_[at] != best.version) continue;
    const uint32_t gone = next_[at];
    const uint32_t after = next_[gone];
    ++version_[gone];
    next_[at] = after;
    if (after < n) prev_[after] = at;
    ++version_[at];
    if (after < n) offer(at, rankOf(piece, at, next_[after]));
    if (at > 0) {
      const uint32_t before = prev_[at];
      ++version_[before];
      offer(before, rankOf(piece, before, after));
    }
  }

  bounds_.clear();
  for (uint32_t i = 0; i < n; i = next_[i]) bounds_.push_back(i);
  bounds_.push_back(n);
  return bounds_;
}

}  // namespace tokenizer::detail
