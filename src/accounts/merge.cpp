#include "accounts/merge.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "accounts/token_hash.h"

namespace accounts {

MergePlan planMerge(std::span<const config::AccountSpec> env,
                    std::span<const store::StoredAccount> stored,
                    std::span<const std::string> tombstones, TimePoint now) {
  MergePlan plan;
  std::map<std::string, size_t, std::less<>> byHash;
  for (const auto& row : stored) {
    byHash.emplace(row.originalTokenHash, plan.kept.size());
    plan.kept.push_back(fromStored(row));
  }
  const std::set<std::string, std::less<>> removed(tombstones.begin(), tombstones.end());
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < env.size(); ++i) {
    const auto& spec = env[i];
    std::string hash = sha256Hex(spec.refreshToken);
    if (!seen.insert(hash).second) {
      plan.duplicates.push_back(i + 1);
      continue;
    }
    if (auto it = byHash.find(hash); it != byHash.end()) {
      // The key is the app's, not the account's: the operator's current value wins.
      Account& account = plan.kept[it->second];
      if (account.apiKey != spec.apiKey) {
        account.apiKey = spec.apiKey;
        plan.keptChanged.push_back(it->second);
      }
      continue;
    }
    if (removed.count(hash) != 0) {
      plan.tombstoned.push_back(i + 1);
      continue;
    }
    Account account;
    account.kind = spec.kind;
    account.apiKey = spec.apiKey;
    account.refreshToken = spec.refreshToken;
    account.originalTokenHash = std::move(hash);
    account.createdAt = now;
    plan.added.push_back(std::move(account));
  }
  return plan;
}

std::string loadAccounts(store::AccountStore* store, std::span<const config::AccountSpec> env,
                         AccountPool& pool, TimePoint now) {
  std::vector<store::StoredAccount> rows;
  std::vector<std::string> tombstones;
  if (store != nullptr) {
    if (auto s = store->loadAll(&rows); !s.ok()) {
      return s.message();
    }
    if (auto s = store->loadTombstones(&tombstones); !s.ok()) {
      return s.message();
    }
  }
  MergePlan plan = planMerge(env, rows, tombstones, now);
  // QD_COOKIE's entries come first, then QODO_API_KEYS': name each by its own variable.
  const auto chatsEntries = static_cast<size_t>(
      std::count_if(env.begin(), env.end(),
                    [](const auto& spec) { return spec.kind == config::AccountKind::kChats; }));
  auto entryName = [&](size_t position) {
    return position > chatsEntries
               ? "QODO_API_KEYS entry " + std::to_string(position - chatsEntries)
               : "QD_COOKIE entry " + std::to_string(position);
  };
  for (size_t position : plan.duplicates) {
    spdlog::warn("{} repeats an earlier account and is ignored", entryName(position));
  }
  for (size_t position : plan.tombstoned) {
    spdlog::info("{} was deleted through the admin API and is not re-added", entryName(position));
  }
  if (store != nullptr && !plan.keptChanged.empty()) {
    store::WriteBatch batch;
    for (size_t index : plan.keptChanged) {
      batch.upserts.push_back(toStored(plan.kept[index]));
    }
    if (auto s = store->write(batch); !s.ok()) {
      return s.message();
    }
  }
  int64_t nextId = 0;
  for (const auto& account : plan.kept) {
    nextId = std::max(nextId, account.id);
  }
  for (auto& account : plan.added) {
    if (store != nullptr) {
      if (auto s = store->insert(toStored(account), &account.id); !s.ok()) {
        return s.message();
      }
    } else {
      account.id = ++nextId;
    }
  }
  for (auto& account : plan.kept) {
    pool.insert(std::move(account));
  }
  for (auto& account : plan.added) {
    pool.insert(std::move(account));
  }
  return {};
}

}  // namespace accounts
