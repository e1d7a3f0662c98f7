// The pool's gauges and the refresher's counters on /metrics, read at scrape time:
// qodo2api_accounts{state=…}, qodo2api_accounts_usable, qodo2api_token_refreshes_total{result=…}.
#pragma once

#include "accounts/pool.h"
#include "accounts/refresher.h"
#include "obs/metrics.h"

namespace accounts {

// `pool` and `refresher` must outlive `metrics`' last render.
void registerMetrics(obs::Metrics& metrics, const AccountPool& pool,
                     const TokenRefresher& refresher);

// The text those collectors write, for the given values.
std::string renderMetrics(const StateCounts& counts, const RefreshCounts& refreshes);

}  // namespace accounts
