#include "tokenizer/byte_pair.h"

#include <algorithm>
#include <functional>

namespace tokenizer::detail {
namespace {

// Beyond this many bytes a scan for the lowest pair per merge costs more than a heap.
constexpr size_t kScanLimit = 64;
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
  // Parts form a linked list named by their start offset. A queue entry (rank << 32 | start) is
  // stale once its part's pair rank moved on: a part's pair only ever grows, and distinct byte
  // strings have distinct ranks, so comparing ranks tells a stale entry exactly.
  const auto n = static_cast<uint32_t>(piece.size());
  next_.resize(n);
  prev_.resize(n);
  pairRank_.resize(n);
  queue_.clear();
  auto key = [](uint32_t rank, uint32_t start) {
    return (static_cast<uint64_t>(rank) << 32) | start;
  };
  for (uint32_t i = 0; i < n; ++i) {
    next_[i] = i + 1;
    prev_[i] = i - 1;
    pairRank_[i] = i + 1 < n ? rankOf(piece, i, i + 2) : kNoRank;
    if (pairRank_[i] != kNoRank) queue_.push_back(key(pairRank_[i], i));
  }
  // Lowest key on top: lowest rank, leftmost on ties.
  std::make_heap(queue_.begin(), queue_.end(), std::greater<>());
  auto offer = [&](uint32_t start, uint32_t rank) {
    pairRank_[start] = rank;
    if (rank == kNoRank) return;
    queue_.push_back(key(rank, start));
    std::push_heap(queue_.begin(), queue_.end(), std::greater<>());
  };

  while (!queue_.empty()) {
    std::pop_heap(queue_.begin(), queue_.end(), std::greater<>());
    const uint64_t best = queue_.back();
    queue_.pop_back();
    const auto at = static_cast<uint32_t>(best);
    if (pairRank_[at] != static_cast<uint32_t>(best >> 32)) continue;
    const uint32_t gone = next_[at];
    const uint32_t after = next_[gone];
    pairRank_[gone] = kNoRank;
    next_[at] = after;
    if (after < n) prev_[after] = at;
    offer(at, after < n ? rankOf(piece, at, next_[after]) : kNoRank);
    if (at > 0) offer(prev_[at], rankOf(piece, prev_[at], after));
  }

  bounds_.clear();
  for (uint32_t i = 0; i < n; i = next_[i]) bounds_.push_back(i);
  bounds_.push_back(n);
  return bounds_;
}

}  // namespace tokenizer::detail
