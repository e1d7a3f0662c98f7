// Start-up: which accounts the pool holds, from QD_COOKIE and the database (docs/accounts.md).
// An env entry is matched to a stored account by the SHA-256 of the refresh token it was first
// configured with; a match keeps the stored state and the current (possibly rotated) token, no
// match makes a new account, and stored accounts absent from the env stay. An entry whose hash
// an admin deleted (a tombstone) is not added again.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "accounts/pool.h"
#include "config/config.h"
#include "store/account_store.h"

namespace accounts {

struct MergePlan {
  std::vector<Account> kept;        // stored accounts (with their ids)
  std::vector<size_t> keptChanged;  // indexes into `kept` whose row must be rewritten
  std::vector<Account> added;       // new env entries; id 0 until inserted
  std::vector<size_t> tombstoned;   // 1-based QD_COOKIE positions skipped: deleted by admin
  std::vector<size_t> duplicates;   // 1-based QD_COOKIE positions repeating an earlier entry
};

MergePlan planMerge(std::span<const config::AccountSpec> env,
                    std::span<const store::StoredAccount> stored,
                    std::span<const std::string> tombstones, TimePoint now);

// Loads the database, applies planMerge, writes new and changed rows and fills `pool`. With a
// null store the env entries alone fill the pool (ids 1…n). Returns an error line, or empty.
// Runs on main before the control thread starts.
std::string loadAccounts(store::AccountStore* store, std::span<const config::AccountSpec> env,
                         AccountPool& pool, TimePoint now);

}  // namespace accounts
