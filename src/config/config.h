// Configuration: environment variables (SPEC.md §2 plus the gateway's own), validated once at
// start-up into an immutable Config that is passed to every room that needs it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/cidr.h"

namespace config {

// The two kinds of Qodo account (SPEC §1): a Firebase login on the chats backend, or a Qodo API
// key on the command backend.
enum class AccountKind { kChats, kCommand };

std::string_view kindName(AccountKind kind);  // "chats", "command"

// One configured account. A command account has no Firebase key: its Qodo API key is its only
// secret and is held in `refreshToken`, so identity (the hash of the first secret), persistence
// and tombstones work the same for both kinds.
struct AccountSpec {
  std::string apiKey;        // chats: the Firebase web API key; command: empty
  std::string refreshToken;  // chats: the refresh token; command: the Qodo API key
  AccountKind kind = AccountKind::kChats;
};

// One MODEL_ALIASES rule: a client's model name matching `pattern` (`*` any run of characters)
// is served as `model`.
struct ModelAlias {
  std::string pattern;
  std::string model;
};

enum class AccountStrategy { kRandom, kRoundRobin, kLeastBusy };

// REDIS_URL, parsed: redis://[user:pass@]host:port[/db].
struct RedisTarget {
  std::string host;
  uint16_t port = 6379;
  std::string user;      // empty: AUTH with the password alone (or none)
  std::string password;  // empty: no AUTH
  int db = 0;
  bool operator==(const RedisTarget&) const = default;
};

struct Config {
  std::string host;  // HOST: the listen address (an IP); empty: every interface
  uint16_t port = 10022;
  std::vector<AccountSpec> accounts;    // QD_COOKIE, then QODO_API_KEYS
  std::vector<std::string> apiSecrets;  // API_SECRET's keys; empty: no client auth
  // The name of each key, same order, for usage accounting: `name:key` entries name theirs,
  // a key alone is named by its first 6 characters.
  std::vector<std::string> apiKeyNames;
  bool chineseChatEnabled = true;
  bool debug = false;
  std::string proxyUrl;                   // empty: direct
  int requestRateLimit = 60;              // per client IP per 60 s; 0: unlimited
  std::string routePrefix;                // "" or "/segment[/segment…]"
  int rateLimitCookieLockDuration = 600;  // seconds
  std::vector<std::string> ipBlackList;   // canonical address text
  std::string qodoApiBase = "https://api.gen.qodo.ai";
  std::string qodoCommandUrl = "https://api.ng.command.qodo.ai";
  std::string recordDir;  // RECORD_DIR: each backend exchange as JSON lines; empty: off
  std::string firebaseTokenUrl = "https://securetoken.googleapis.com/v1/token";
  std::string dataDir = "./data";
  std::string adminSecret;  // empty: admin API disabled
  bool reasoningHide = false;
  std::vector<Cidr> trustedProxies;
  int workers = 1;
  uint64_t maxBodyBytes = 10485760;
  int shutdownGraceSeconds = 30;
  int headerTimeoutSeconds = 10;
  int keepAliveTimeoutSeconds = 75;
  AccountStrategy accountStrategy = AccountStrategy::kRandom;
  int upstreamConnectTimeoutSeconds = 10;
  int upstreamFirstByteTimeoutSeconds = 120;
  int upstreamIdleTimeoutSeconds = 60;
  int accountCheckIntervalSeconds = 0;  // ACCOUNT_CHECK_INTERVAL_SECONDS; 0: on demand only
  std::vector<ModelAlias> modelAliases;  // MODEL_ALIASES, in order (the first match wins)
  std::optional<RedisTarget> redis;      // REDIS_URL; none: a single instance on SQLite
};

// Parses a REDIS_URL value; the error names what is wrong (never echoing the password).
std::optional<RedisTarget> parseRedisUrl(std::string_view url, std::string* error);

// Every variable with its default and meaning, in the order --help prints them.
struct VariableDoc {
  std::string_view name;
  std::string_view defaultValue;
  std::string_view meaning;
};
const std::vector<VariableDoc>& variables();

// Looks up one variable; nullopt when unset.
using Env = std::function<std::optional<std::string>(std::string_view name)>;

struct LoadResult {
  std::optional<Config> config;
  std::string error;  // one line naming the variable, when config is empty
};

// `cores` is the default for WORKERS.
LoadResult load(const Env& env, int cores);

// Env reading the process environment first, then the KEY=VALUE lines of `dotenvText`.
Env processEnvWithDotenv(std::string dotenvText);

// Parses .env text: KEY=VALUE lines, `#` comments, optional `export `, single or double quotes.
std::vector<std::pair<std::string, std::string>> parseDotenv(std::string_view text);

// The text of --help.
std::string helpText();

}  // namespace config
