#include "obs/usage.h"

#include <ctime>

#include "obs/metrics.h"

namespace obs {

std::string utcDay(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

void UsageLedger::add(std::string_view day, std::string_view key, std::string_view model,
                      int64_t prompt, int64_t completion) {
  std::lock_guard lock(mutex_);
  // Found without building the key (every answer comes here; the row usually exists).
  using View = std::tuple<std::string_view, std::string_view, std::string_view>;
  auto it = rows_.find(View(day, key, model));
  if (it == rows_.end()) {
    const std::string_view kept = rows_.size() >= kMaxRows ? "(other)" : model;
    it = rows_.try_emplace(Key{std::string(day), std::string(key), std::string(kept)}).first;
  }
  it->second.requests += 1;
  it->second.prompt += prompt;
  it->second.completion += completion;
  changed_.insert(it->first);
}

void UsageLedger::load(const std::vector<UsageRow>& rows) {
  std::lock_guard lock(mutex_);
  for (const auto& r : rows) {
    Counts& c = rows_[Key{r.day, r.key, r.model}];
    c.requests += r.requests;
    c.prompt += r.promptTokens;
    c.completion += r.completionTokens;
  }
}

void UsageLedger::showShared(std::string_view day, const std::vector<UsageRow>& rows) {
  std::lock_guard lock(mutex_);
  shared_ = true;
  for (auto it = sharedRows_.begin(); it != sharedRows_.end();)
    it = std::get<0>(it->first) == day ? sharedRows_.erase(it) : std::next(it);
  for (const auto& r : rows)
    if (sharedRows_.size() < kMaxRows)
      sharedRows_[Key{r.day, r.key, r.model}] = {r.requests, r.promptTokens, r.completionTokens};
}

std::vector<UsageRow> UsageLedger::rows(std::string_view from, std::string_view to) const {
  std::lock_guard lock(mutex_);
  std::vector<UsageRow> out;
  for (const auto& [k, c] : shared_ ? sharedRows_ : rows_) {
    const auto& [day, key, model] = k;
    if (!from.empty() && day < from) continue;
    if (!to.empty() && day > to) continue;
    out.push_back({day, key, model, c.requests, c.prompt, c.completion});
  }
  return out;
}

std::vector<UsageRow> UsageLedger::takeChanged() {
  std::lock_guard lock(mutex_);
  std::vector<UsageRow> out;
  for (const auto& k : changed_) {
    const Counts& c = rows_.at(k);
    out.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), c.requests, c.prompt,
                   c.completion});
  }
  changed_.clear();
  return out;
}

void UsageLedger::render(std::string& out) const {
  std::map<std::pair<std::string, std::string>, Counts> totals;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [k, c] : shared_ ? sharedRows_ : rows_) {
      Counts& t = totals[{std::get<1>(k), std::get<2>(k)}];
      t.requests += c.requests;
      t.prompt += c.prompt;
      t.completion += c.completion;
    }
  }
  out += "# HELP qodo2api_usage_requests_total Answers counted for usage, by client key name and model\n";
  out += "# TYPE qodo2api_usage_requests_total counter\n";
  for (const auto& [km, c] : totals)
    out += "qodo2api_usage_requests_total{key=\"" + escapeLabel(km.first) + "\",model=\"" +
           escapeLabel(km.second) + "\"} " + std::to_string(c.requests) + "\n";
  out += "# HELP qodo2api_usage_tokens_total Tokens counted for usage, by client key name, model and direction\n";
  out += "# TYPE qodo2api_usage_tokens_total counter\n";
  for (const auto& [km, c] : totals) {
    const std::string labels =
        "key=\"" + escapeLabel(km.first) + "\",model=\"" + escapeLabel(km.second) + "\"";
    out += "qodo2api_usage_tokens_total{" + labels + ",direction=\"prompt\"} " +
           std::to_string(c.prompt) + "\n";
    out += "qodo2api_usage_tokens_total{" + labels + ",direction=\"completion\"} " +
           std::to_string(c.completion) + "\n";
  }
}

}  // namespace obs
