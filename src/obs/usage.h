// Usage accounting (SPEC.md §13): every answer's prompt and completion tokens, counted per
// client key name and per model per day (UTC), in memory for /admin/usage and /metrics, with
// the rows that changed handed to a store (SQLite today) to survive restarts. Thread-safe:
// workers add, the control thread takes what changed, the admin API and scrapes read.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace obs {

struct UsageRow {
  std::string day;  // YYYY-MM-DD, UTC
  std::string key;  // the client key's name ("anonymous" without API_SECRET)
  std::string model;
  int64_t requests = 0;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;

  bool operator==(const UsageRow&) const = default;
};

// "YYYY-MM-DD" of `t` in UTC.
std::string utcDay(std::chrono::system_clock::time_point t);

class UsageLedger {
 public:
  // Rows kept at most; beyond, new (day, key) pairs count under the model "(other)", so a
  // client inventing model names cannot grow memory without bound.
  static constexpr size_t kMaxRows = 100000;

  void add(std::string_view day, std::string_view key, std::string_view model, int64_t prompt,
           int64_t completion);
  // Totals read back from the store at start (not changed, so not handed back).
  void load(const std::vector<UsageRow>& rows);
  // Rows whose day is within [from, to] (inclusive; empty: unbounded), by day, key, model.
  std::vector<UsageRow> rows(std::string_view from, std::string_view to) const;
  // The rows changed since the last call, with their totals.
  std::vector<UsageRow> takeChanged();
  // A fleet (REDIS_URL): what every instance counted for `day`, read back from the shared store.
  // From the first call on, rows() and render() show the fleet's totals instead of this
  // instance's (which still go to the store through takeChanged()).
  void showShared(std::string_view day, const std::vector<UsageRow>& rows);
  // `qodo2api_usage_requests_total` and `qodo2api_usage_tokens_total`, with HELP and TYPE:
  // every row's totals summed over days, per key and model.
  void render(std::string& out) const;

 private:
  struct Counts {
    int64_t requests = 0;
    int64_t prompt = 0;
    int64_t completion = 0;
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // day, key, model
  // Orders keys and finds them from string views (no strings built to look a row up); written
  // out because clang's tuple comparison does not mix tuples of strings and of views.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return views(a) < views(b);
    }
    template <class T>
    static std::tuple<std::string_view, std::string_view, std::string_view> views(const T& t) {
      return {std::get<0>(t), std::get<1>(t), std::get<2>(t)};
    }
  };
  mutable std::mutex mutex_;
  std::map<Key, Counts, KeyLess> rows_;
  std::set<Key> changed_;
  bool shared_ = false;
  std::map<Key, Counts, KeyLess> sharedRows_;  // the fleet's, when shared_
};

}  // namespace obs
