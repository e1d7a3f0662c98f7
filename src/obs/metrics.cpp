#include "obs/metrics.h"

#include "obs/stats.h"

#include <charconv>

namespace obs {

void MetricsShard::count(std::string_view family, std::string_view labels, uint64_t n) {
  std::lock_guard lock(mutex_);
  auto fam = counters_.find(family);
  if (fam == counters_.end())
    fam = counters_.emplace(std::string(family), decltype(fam->second){}).first;
  auto series = fam->second.find(labels);
  if (series == fam->second.end()) series = fam->second.emplace(std::string(labels), 0).first;
  series->second += n;
}

void MetricsShard::observe(std::string_view family, std::string_view labels, double seconds) {
  std::lock_guard lock(mutex_);
  auto fam = histograms_.find(family);
  if (fam == histograms_.end())
    fam = histograms_.emplace(std::string(family), decltype(fam->second){}).first;
  auto series = fam->second.find(labels);
  if (series == fam->second.end())
    series = fam->second.emplace(std::string(labels), Histogram{}).first;
  Histogram& h = series->second;
  for (size_t i = 0; i < std::size(kDurationBuckets); ++i)
    if (seconds <= kDurationBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

Metrics::Metrics(size_t shards) : traffic_(std::make_unique<TrafficStats>()) {
  for (size_t i = 0; i < std::max<size_t>(shards, 1); ++i)
    shards_.push_back(std::make_unique<MetricsShard>());
}

Metrics::~Metrics() = default;

void Metrics::describe(std::string name, std::string type, std::string help) {
  descriptions_[std::move(name)] = {std::move(type), std::move(help)};
}

void Metrics::addCollector(Collector collector) { collectors_.push_back(std::move(collector)); }

namespace {

void header(std::string& out, const std::map<std::string, std::pair<std::string, std::string>>& d,
            const std::string& name, const char* type) {
  auto it = d.find(name);
  out += "# HELP " + name + " " + (it != d.end() ? it->second.second : name) + "\n";
  out += "# TYPE " + name + " " + (it != d.end() ? it->second.first : type) + "\n";
}

std::string withLabels(const std::string& name, const std::string& labels) {
  return labels.empty() ? name : name + "{" + labels + "}";
}

std::string formatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, end);
}

}  // namespace

std::string Metrics::render() const {
  std::map<std::string, std::map<std::string, uint64_t>> counters;
  std::map<std::string, std::map<std::string, MetricsShard::Histogram>> histograms;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex_);
    for (const auto& [family, series] : shard->counters_)
      for (const auto& [labels, value] : series) counters[family][labels] += value;
    for (const auto& [family, series] : shard->histograms_)
      for (const auto& [labels, h] : series) {
        auto& sum = histograms[family][labels];
        for (size_t i = 0; i < h.buckets.size(); ++i) sum.buckets[i] += h.buckets[i];
        sum.count += h.count;
        sum.sum += h.sum;
      }
  }
  std::string out;
  out.reserve(4096);
  // Described counter families appear even before their first event, so dashboards see zeros.
  for (const auto& [name, d] : descriptions_)
    if (d.first == "counter" && !counters.count(name)) counters[name];
  for (const auto& [family, series] : counters) {
    header(out, descriptions_, family, "counter");
    for (const auto& [labels, value] : series)
      out += withLabels(family, labels) + " " + std::to_string(value) + "\n";
  }
  for (const auto& [family, series] : histograms) {
    header(out, descriptions_, family, "histogram");
    for (const auto& [labels, h] : series) {
      const std::string sep = labels.empty() ? "" : ",";
      for (size_t i = 0; i < h.buckets.size(); ++i)
        out += family + "_bucket{" + labels + sep + "le=\"" + formatDouble(kDurationBuckets[i]) +
               "\"} " + std::to_string(h.buckets[i]) + "\n";
      out += family + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += withLabels(family + "_sum", labels) + " " + formatDouble(h.sum) + "\n";
      out += withLabels(family + "_count", labels) + " " + std::to_string(h.count) + "\n";
    }
  }
  header(out, descriptions_, "qodo2api_active_streams", "gauge");
  out += "qodo2api_active_streams " + std::to_string(activeStreams_.load()) + "\n";
  for (const auto& collector : collectors_) collector(out);
  usage_.render(out);
  return out;
}

std::string escapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace obs
