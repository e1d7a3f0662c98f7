#include "fleet/usage_store.h"

#include <chrono>

#include "fleet/scripts.h"

namespace fleet {

namespace {

const Script kUsageAdd(R"(
for i = 1, #ARGV, 6 do
  local hash = 'q2a:usage:' .. ARGV[i]
  local field = ARGV[i + 1] .. '\31' .. ARGV[i + 2] .. '\31'
  redis.call('HINCRBY', hash, field .. 'r', ARGV[i + 3])
  redis.call('HINCRBY', hash, field .. 'p', ARGV[i + 4])
  redis.call('HINCRBY', hash, field .. 'c', ARGV[i + 5])
  redis.call('SADD', KEYS[1], ARGV[i])
end
return 1
)");

}  // namespace

void RedisUsageStore::save(std::vector<obs::UsageRow> rows,
                           std::function<void(store::Status)> done) {
  std::vector<std::string> args;
  std::vector<std::pair<Key, Sent>> totals;
  for (const auto& r : rows) {
    Key key{r.day, r.key, r.model};
    const Sent& before = sent_[key];
    const Sent delta{r.requests - before.requests, r.promptTokens - before.prompt,
                     r.completionTokens - before.completion};
    totals.push_back({key, {r.requests, r.promptTokens, r.completionTokens}});
    if (delta.requests == 0 && delta.prompt == 0 && delta.completion == 0) continue;
    for (std::string v : {r.day, r.key, r.model, std::to_string(delta.requests),
                          std::to_string(delta.prompt), std::to_string(delta.completion)})
      args.push_back(std::move(v));
  }
  if (args.empty()) return done({});
  if (!fleet_.redis().up())
    return done({store::ErrorKind::kIo, "usage: redis is unreachable; kept for later"});
  kUsageAdd.run(
      fleet_.redis(), {std::string(kUsageDays)}, std::move(args),
      [this, totals = std::move(totals),
       done = std::move(done)](std::optional<store::RedisReply> reply) {
        if (!reply || reply->isError())
          return done({store::ErrorKind::kIo, "usage: saving to redis failed: " +
                                                  (reply ? reply->str : std::string("no answer"))});
        for (const auto& [key, sent] : totals) sent_[key] = sent;
        done({});
      });
}

void RedisUsageStore::pull(bool all) {
  if (!fleet_.redis().up()) return;
  if (all) {
    fleet_.redis().command({"SMEMBERS", std::string(kUsageDays)},
                           [this](std::optional<store::RedisReply> reply) {
                             if (!reply) return;
                             for (const auto& day : reply->elements) pullDay(day.str);
                           });
    return;
  }
  const auto now = std::chrono::system_clock::now();
  pullDay(obs::utcDay(now - std::chrono::hours(24)));
  pullDay(obs::utcDay(now));
}

void RedisUsageStore::pullDay(const std::string& day) {
  fleet_.redis().command(
      {"HGETALL", std::string(kUsagePrefix) + day},
      [this, day](std::optional<store::RedisReply> reply) {
        if (!reply || reply->type != store::RedisReply::Type::kArray) return;
        std::map<std::pair<std::string, std::string>, obs::UsageRow> rows;
        for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
          const std::string& field = reply->elements[i].str;
          // "<key>\x1f<model>\x1f<r|p|c>": the key has no \x1f (configured names); the model
          // runs to the last one.
          const size_t first = field.find('\x1f');
          const size_t last = field.rfind('\x1f');
          if (first == std::string::npos || last == first || last + 2 != field.size()) continue;
          auto& row = rows[{field.substr(0, first), field.substr(first + 1, last - first - 1)}];
          row.day = day;
          row.key = field.substr(0, first);
          row.model = field.substr(first + 1, last - first - 1);
          const int64_t v = reply->elements[i + 1].asInteger(0);
          switch (field.back()) {
            case 'r':
              row.requests = v;
              break;
            case 'p':
              row.promptTokens = v;
              break;
            case 'c':
              row.completionTokens = v;
              break;
            default:
              break;
          }
        }
        std::vector<obs::UsageRow> out;
        out.reserve(rows.size());
        for (auto& [k, row] : rows) out.push_back(std::move(row));
        ledger_.showShared(day, out);
      });
}

}  // namespace fleet
