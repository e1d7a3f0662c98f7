// Prometheus metrics. Each worker thread writes to its own shard (an uncontended lock: only a
// scrape competes for it); /metrics sums the shards. Gauges whose value lives elsewhere (pool
// state, open streams) are read at scrape time through collectors.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "obs/usage.h"

namespace obs {

class TrafficStats;

// Upper bounds in seconds of the request duration histogram.
inline constexpr double kDurationBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                              1,     2.5,  5,     10,   30,  60,   120};

class MetricsShard {
 public:
  // `labels` is the Prometheus label text without braces, e.g. `route="/v1/models",status="200"`.
  void count(std::string_view family, std::string_view labels, uint64_t n = 1);
  void observe(std::string_view family, std::string_view labels, double seconds);

 private:
  friend class Metrics;
  struct Histogram {
    std::vector<uint64_t> buckets = std::vector<uint64_t>(std::size(kDurationBuckets), 0);
    uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mutex_;
  // std::less<>: a series that exists is found by its string_view, without building a string
  // (count/observe run several times per request).
  std::map<std::string, std::map<std::string, uint64_t, std::less<>>, std::less<>> counters_;
  std::map<std::string, std::map<std::string, Histogram, std::less<>>, std::less<>> histograms_;
};

class Metrics {
 public:
  // Writes gauge lines (`name{labels} value\n`) at scrape time.
  using Collector = std::function<void(std::string& out)>;

  explicit Metrics(size_t shards);
  ~Metrics();

  MetricsShard& shard(size_t index) { return *shards_[index % shards_.size()]; }
  size_t shardCount() const { return shards_.size(); }

  // HELP text and TYPE for a family; families without a description are still rendered.
  void describe(std::string name, std::string type, std::string help);
  void addCollector(Collector collector);

  std::atomic<int64_t>& activeStreams() { return activeStreams_; }
  // Tokens per client key and model per day (rendered with the rest).
  UsageLedger& usage() { return usage_; }
  // The last hour, minute by minute, for the console (obs/stats.h; not rendered here).
  TrafficStats& traffic() { return *traffic_; }

  std::string render() const;

 private:
  std::vector<std::unique_ptr<MetricsShard>> shards_;
  std::map<std::string, std::pair<std::string, std::string>> descriptions_;
  std::vector<Collector> collectors_;
  std::atomic<int64_t> activeStreams_{0};
  UsageLedger usage_;
  std::unique_ptr<TrafficStats> traffic_;
};

// Label value escaping per the Prometheus text format (\\, \", \n).
std::string escapeLabel(std::string_view value);

}  // namespace obs
