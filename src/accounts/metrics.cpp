#include "accounts/metrics.h"

namespace accounts {

std::string renderMetrics(const StateCounts& c, const RefreshCounts& r) {
  std::string out;
  out += "# HELP qodo2api_accounts Accounts by state.\n# TYPE qodo2api_accounts gauge\n";
  out += "qodo2api_accounts{state=\"active\"} " + std::to_string(c.active) + "\n";
  out += "qodo2api_accounts{state=\"cooling\"} " + std::to_string(c.cooling) + "\n";
  out += "qodo2api_accounts{state=\"exhausted\"} " + std::to_string(c.exhausted) + "\n";
  out += "qodo2api_accounts{state=\"invalid\"} " + std::to_string(c.invalid) + "\n";
  out += "qodo2api_accounts{state=\"disabled\"} " + std::to_string(c.disabled) + "\n";
  out += "# HELP qodo2api_accounts_usable Accounts that can serve a request now.\n";
  out += "# TYPE qodo2api_accounts_usable gauge\n";
  out += "qodo2api_accounts_usable " + std::to_string(c.usable) + "\n";
  out += "# HELP qodo2api_accounts_by_kind Accounts by kind, and how many of them can serve now.\n";
  out += "# TYPE qodo2api_accounts_by_kind gauge\n";
  const size_t chats = c.total() - c.command;
  const size_t usableChats = c.usable - c.usableCommand;
  out += "qodo2api_accounts_by_kind{kind=\"chats\",usable=\"true\"} " +
         std::to_string(usableChats) + "\n";
  out += "qodo2api_accounts_by_kind{kind=\"chats\",usable=\"false\"} " +
         std::to_string(chats - usableChats) + "\n";
  out += "qodo2api_accounts_by_kind{kind=\"command\",usable=\"true\"} " +
         std::to_string(c.usableCommand) + "\n";
  out += "qodo2api_accounts_by_kind{kind=\"command\",usable=\"false\"} " +
         std::to_string(c.command - c.usableCommand) + "\n";
  out += "# HELP qodo2api_token_refreshes_total Token exchanges (chats) and get-things (command) "
         "by result.\n";
  out += "# TYPE qodo2api_token_refreshes_total counter\n";
  out += "qodo2api_token_refreshes_total{result=\"ok\"} " + std::to_string(r.ok) + "\n";
  out += "qodo2api_token_refreshes_total{result=\"rejected\"} " + std::to_string(r.rejected) + "\n";
  out +=
      "qodo2api_token_refreshes_total{result=\"transient\"} " + std::to_string(r.transient) + "\n";
  out += "qodo2api_token_refreshes_total{result=\"adopted\"} " + std::to_string(r.adopted) + "\n";
  return out;
}

void registerMetrics(obs::Metrics& metrics, const AccountPool& pool,
                     const TokenRefresher& refresher) {
  metrics.addCollector([&pool, &refresher](std::string& out) {
    out += renderMetrics(pool.counts(Clock::now()), refresher.refreshCounts());
  });
}

}  // namespace accounts
