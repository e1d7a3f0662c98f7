// Usage totals for a fleet (SPEC §13 with §12): every instance adds what it counted to one hash
// per day in Redis (q2a:usage:<day>, fields "<key>\x1f<model>\x1f<r|p|c>"), and reads the
// fleet's totals back into its ledger so /admin/usage and /metrics show the fleet's numbers.
#pragma once

#include <map>
#include <tuple>

#include "fleet/fleet_sync.h"
#include "obs/usage.h"
#include "store/usage_store.h"

namespace fleet {

class RedisUsageStore final : public store::UsageStore {
 public:
  RedisUsageStore(FleetSync& fleet, obs::UsageLedger& ledger) : fleet_(fleet), ledger_(ledger) {}

  // The fleet's totals are in Redis: this instance starts counting from zero.
  store::Status load(std::vector<obs::UsageRow>* out) override { return {}; }
  // Adds what each row gained since its last save, in one script (all or nothing). Control
  // thread.
  void save(std::vector<obs::UsageRow> rows, std::function<void(store::Status)> done) override;
  // Reads the fleet's totals for the last two days (every day when `all`) into the ledger.
  // Control thread.
  void pull(bool all);

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  struct Sent {
    int64_t requests = 0, prompt = 0, completion = 0;
  };
  void pullDay(const std::string& day);

  FleetSync& fleet_;
  obs::UsageLedger& ledger_;
  std::map<Key, Sent> sent_;  // this instance's totals already added to the fleet's
};

}  // namespace fleet
