#include "config/config.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdlib>
#include <limits>

namespace config {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string item = trim(s.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

// Collects the first error; later checks are skipped once one failed.
class Loader {
 public:
  Loader(const Env& env) : env_(env) {}

  std::optional<std::string> raw(std::string_view name) {
    auto v = env_(name);
    if (v) *v = trim(*v);
    if (v && v->empty()) return std::nullopt;
    return v;
  }

  void fail(std::string_view name, std::string_view why) {
    if (error_.empty()) error_ = std::string(name) + ": " + std::string(why);
  }

  template <typename Int>
  void integer(std::string_view name, Int& out, long long min, long long max) {
    auto v = raw(name);
    if (!v) return;
    long long value = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
    if (ec != std::errc() || end != v->data() + v->size() || value < min || value > max) {
      fail(name, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", got '" + *v + "'");
      return;
    }
    out = static_cast<Int>(value);
  }

  void boolean(std::string_view name, bool& out) {
    auto v = raw(name);
    if (!v) return;
    std::string s;
    for (char c : *v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "1" || s == "yes" || s == "on")
      out = true;
    else if (s == "false" || s == "0" || s == "no" || s == "off")
      out = false;
    else
      fail(name, "must be true or false, got '" + *v + "'");
  }

  void string(std::string_view name, std::string& out) {
    if (auto v = raw(name)) out = *v;
  }

  void httpUrl(std::string_view name, std::string& out) {
    auto v = raw(name);
    if (!v) return;
    auto url = boost::urls::parse_absolute_uri(*v);
    if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
      fail(name, "must be an http:// or https:// URL, got '" + *v + "'");
      return;
    }
    out = *v;
    while (!out.empty() && out.back() == '/') out.pop_back();
  }

  const std::string& error() const { return error_; }

 private:
  const Env& env_;
  std::string error_;
};

std::string normalizePrefix(std::string_view raw) {
  std::string p(raw);
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p.empty() ? "" : "/" + p;
}

}  // namespace

std::string_view kindName(AccountKind kind) {
  return kind == AccountKind::kCommand ? "command" : "chats";
}

const std::vector<VariableDoc>& variables() {
  static const std::vector<VariableDoc> docs = {
      {"HOST", "all interfaces", "listen address (an IP, e.g. 127.0.0.1 behind a local proxy)"},
      {"PORT", "10022", "listen port"},
      {"QD_COOKIE", "", "account pool: apiKey=refreshToken[,apiKey=refreshToken...]"},
      {"QODO_API_KEYS", "", "command-backend accounts: comma list of Qodo API keys"},
      {"API_SECRET", "",
       "comma list of accepted client keys, each key or name:key (the name is used for usage); "
       "empty: no client auth"},
      {"CHINESE_CHAT_ENABLED", "true", "work around the backend's refusal of Chinese chats"},
      {"DEBUG", "false", "log bodies and upstream events (secrets masked)"},
      {"PROXY_URL", "", "outbound proxy: http://, https://, socks5://, socks5h:// [user:pass@]"},
      {"REQUEST_RATE_LIMIT", "60", "requests per client IP per 60 s sliding window; 0: unlimited"},
      {"ROUTE_PREFIX", "", "mount the API under /<prefix>"},
      {"RATE_LIMIT_COOKIE_LOCK_DURATION", "600", "seconds an account rests after a rate limit"},
      {"IP_BLACK_LIST", "", "comma list of client IPs answered 403"},
      {"QODO_API_BASE", "https://api.gen.qodo.ai", "backend base URL"},
      {"QODO_COMMAND_URL", "https://api.ng.command.qodo.ai",
       "command backend base URL (a tenant base_url from get-things wins)"},
      {"RECORD_DIR", "", "write each backend exchange here as JSON lines (secrets as ***)"},
      {"FIREBASE_TOKEN_URL", "https://securetoken.googleapis.com/v1/token", "token exchange URL"},
      {"DATA_DIR", "./data", "persistent state (SQLite database, logs)"},
      {"ADMIN_SECRET", "", "bearer key of the admin API; empty: admin API disabled"},
      {"REASONING_HIDE", "0", "1: drop <think> reasoning instead of reasoning_content"},
      {"TRUSTED_PROXIES", "", "CIDR list of proxies whose X-Forwarded-For is believed"},
      {"WORKERS", "cores", "worker threads, each with its own event loop"},
      {"MAX_BODY_BYTES", "10485760", "request body limit (413 beyond)"},
      {"SHUTDOWN_GRACE_SECONDS", "30", "on SIGTERM/SIGINT, time in-flight requests may finish"},
      {"HEADER_TIMEOUT_SECONDS", "10", "time a client has to send a request's headers and body"},
      {"KEEP_ALIVE_TIMEOUT_SECONDS", "75", "idle keep-alive connections are closed after this"},
      {"ACCOUNT_STRATEGY", "random", "account choice: random, round_robin or least_busy"},
      {"UPSTREAM_CONNECT_TIMEOUT_SECONDS", "10", "backend connect timeout (TCP, TLS, proxy)"},
      {"UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS", "120", "backend time to the first body byte"},
      {"UPSTREAM_IDLE_TIMEOUT_SECONDS", "60", "longest silence of the backend mid-answer"},
      {"ACCOUNT_CHECK_INTERVAL_SECONDS", "0",
       "check every account this often with a tiny real request; 0: on demand only"},
      {"MODEL_ALIASES", "",
       "comma list of pattern=model (* matches any run); Anthropic model ids have built-in "
       "defaults"},
      {"REDIS_URL", "",
       "redis://[user:pass@]host:port[/db]: share accounts, tokens, rate limits and usage with "
       "the other instances (docs/fleet.md); empty: one instance on SQLite"},
  };
  return docs;
}

LoadResult load(const Env& env, int cores) {
  Config c;
  c.workers = std::max(1, cores);
  Loader l(env);

  if (auto v = l.raw("HOST")) {
    std::string host = trim(*v);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (auto canonical = canonicalAddress(host))
      c.host = *canonical;
    else
      l.fail("HOST", "'" + host + "' is not an IP address (e.g. 127.0.0.1 or ::1)");
  }
  l.integer("PORT", c.port, 0, 65535);  // 0: any free port (tests)

  if (auto v = l.raw("QD_COOKIE")) {
    size_t position = 0;
    for (const std::string& entry : splitList(*v)) {
      ++position;
      auto eq = entry.find('=');
      std::string key = eq == std::string::npos ? "" : trim(entry.substr(0, eq));
      std::string token = eq == std::string::npos ? "" : trim(entry.substr(eq + 1));
      if (key.empty() || token.empty()) {
        l.fail("QD_COOKIE", "entry " + std::to_string(position) +
                                " is not apiKey=refreshToken (both parts are required)");
        break;
      }
      c.accounts.push_back({key, token});
    }
  }
  if (auto v = l.raw("QODO_API_KEYS")) {
    for (const std::string& key : splitList(*v)) {
      if (key.find_first_of(" \t\r\n\"") != std::string::npos) {
        l.fail("QODO_API_KEYS", "a key holds a space or a quote (keys are separated by commas)");
        break;
      }
      c.accounts.push_back({"", key, AccountKind::kCommand});
    }
  }
  if (auto v = l.raw("API_SECRET")) {
    for (const std::string& entry : splitList(*v)) {
      const auto colon = entry.find(':');
      std::string name = colon == std::string::npos ? "" : trim(entry.substr(0, colon));
      std::string key = colon == std::string::npos ? entry : trim(entry.substr(colon + 1));
      if (colon != std::string::npos && (name.empty() || key.empty())) {
        l.fail("API_SECRET", "an entry is not key or name:key (both parts are required)");
        break;
      }
      if (name.empty()) name = key.substr(0, 6);
      c.apiSecrets.push_back(std::move(key));
      c.apiKeyNames.push_back(std::move(name));
    }
  }
  l.boolean("CHINESE_CHAT_ENABLED", c.chineseChatEnabled);
  l.boolean("DEBUG", c.debug);

  if (auto v = l.raw("PROXY_URL")) {
    auto url = boost::urls::parse_absolute_uri(*v);
    const bool ok = url &&
                    (url->scheme() == "http" || url->scheme() == "https" ||
                     url->scheme() == "socks5" || url->scheme() == "socks5h") &&
                    !url->host().empty();
    if (!ok)
      l.fail("PROXY_URL", "must be an http://, https://, socks5:// or socks5h:// URL with a host");
    else
      c.proxyUrl = *v;
  }
  l.integer("REQUEST_RATE_LIMIT", c.requestRateLimit, 0, 100000000);
  if (auto v = l.raw("ROUTE_PREFIX")) {
    c.routePrefix = normalizePrefix(*v);
    for (char ch : c.routePrefix)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '-' || ch == '_' ||
            ch == '.' || ch == '~'))
        l.fail("ROUTE_PREFIX", "may hold only letters, digits, '/', '-', '_', '.', '~'");
    if (c.routePrefix.find("//") != std::string::npos)
      l.fail("ROUTE_PREFIX", "must not contain an empty segment");
  }
  l.integer("RATE_LIMIT_COOKIE_LOCK_DURATION", c.rateLimitCookieLockDuration, 0, 100000000);
  if (auto v = l.raw("IP_BLACK_LIST")) {
    for (const std::string& ip : splitList(*v)) {
      auto canonical = canonicalAddress(ip);
      if (!canonical) {
        l.fail("IP_BLACK_LIST", "'" + ip + "' is not an IP address");
        break;
      }
      c.ipBlackList.push_back(*canonical);
    }
  }
  l.httpUrl("QODO_API_BASE", c.qodoApiBase);
  l.httpUrl("QODO_COMMAND_URL", c.qodoCommandUrl);
  while (!c.qodoCommandUrl.empty() && c.qodoCommandUrl.back() == '/') c.qodoCommandUrl.pop_back();
  l.string("RECORD_DIR", c.recordDir);
  l.httpUrl("FIREBASE_TOKEN_URL", c.firebaseTokenUrl);
  l.string("DATA_DIR", c.dataDir);
  l.string("ADMIN_SECRET", c.adminSecret);
  l.boolean("REASONING_HIDE", c.reasoningHide);
  if (auto v = l.raw("TRUSTED_PROXIES")) {
    for (const std::string& range : splitList(*v)) {
      auto cidr = Cidr::parse(range);
      if (!cidr) {
        l.fail("TRUSTED_PROXIES", "'" + range + "' is not an IP address or CIDR range");
        break;
      }
      c.trustedProxies.push_back(*cidr);
    }
  }
  l.integer("WORKERS", c.workers, 1, 1024);
  l.integer("MAX_BODY_BYTES", c.maxBodyBytes, 1, std::numeric_limits<int64_t>::max());
  l.integer("SHUTDOWN_GRACE_SECONDS", c.shutdownGraceSeconds, 0, 86400);
  l.integer("HEADER_TIMEOUT_SECONDS", c.headerTimeoutSeconds, 1, 3600);
  l.integer("KEEP_ALIVE_TIMEOUT_SECONDS", c.keepAliveTimeoutSeconds, 1, 86400);
  if (auto v = l.raw("ACCOUNT_STRATEGY")) {
    if (*v == "random")
      c.accountStrategy = AccountStrategy::kRandom;
    else if (*v == "round_robin")
      c.accountStrategy = AccountStrategy::kRoundRobin;
    else if (*v == "least_busy")
      c.accountStrategy = AccountStrategy::kLeastBusy;
    else
      l.fail("ACCOUNT_STRATEGY", "must be random, round_robin or least_busy, got '" + *v + "'");
  }
  l.integer("UPSTREAM_CONNECT_TIMEOUT_SECONDS", c.upstreamConnectTimeoutSeconds, 1, 3600);
  l.integer("UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS", c.upstreamFirstByteTimeoutSeconds, 1, 3600);
  l.integer("UPSTREAM_IDLE_TIMEOUT_SECONDS", c.upstreamIdleTimeoutSeconds, 1, 3600);
  l.integer("ACCOUNT_CHECK_INTERVAL_SECONDS", c.accountCheckIntervalSeconds, 0, 7 * 86400);
  if (auto v = l.raw("MODEL_ALIASES")) {
    size_t position = 0;
    for (const std::string& entry : splitList(*v)) {
      ++position;
      const auto eq = entry.find('=');
      std::string pattern = eq == std::string::npos ? "" : trim(entry.substr(0, eq));
      std::string model = eq == std::string::npos ? "" : trim(entry.substr(eq + 1));
      if (pattern.empty() || model.empty() || model.find('*') != std::string::npos) {
        l.fail("MODEL_ALIASES", "entry " + std::to_string(position) +
                                    " is not pattern=model (a model name without '*')");
        break;
      }
      c.modelAliases.push_back({std::move(pattern), std::move(model)});
    }
  }

  if (auto v = l.raw("REDIS_URL"); v && !v->empty()) {
    std::string error;
    c.redis = parseRedisUrl(*v, &error);
    if (!c.redis) l.fail("REDIS_URL", error);
  }

  if (!l.error().empty()) return {std::nullopt, l.error()};
  return {std::move(c), ""};
}

std::optional<RedisTarget> parseRedisUrl(std::string_view text, std::string* error) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url) {
    *error = "must be redis://[user:pass@]host:port[/db]";
    return std::nullopt;
  }
  if (url->scheme() == "rediss") {
    // Debian 12's hiredis (0.14) has no TLS; a TLS-terminating proxy (stunnel) on the instance's
    // host gives the same protection (docs/fleet.md).
    *error =
        "rediss:// (TLS) is not supported by the hiredis Debian 12 ships (0.14); use "
        "redis:// through a local TLS tunnel (docs/fleet.md)";
    return std::nullopt;
  }
  if (url->scheme() != "redis" || url->host().empty()) {
    *error = "must be redis://[user:pass@]host:port[/db]";
    return std::nullopt;
  }
  RedisTarget t;
  t.host = std::string(url->host_address());
  if (url->has_port()) {
    const auto port = url->port_number();
    if (port == 0) {
      *error = "has a bad port";
      return std::nullopt;
    }
    t.port = port;
  }
  if (url->has_userinfo()) {
    t.user = std::string(url->user());
    t.password = std::string(url->password());
    if (t.password.empty()) std::swap(t.user, t.password);  // redis://secret@host
  }
  std::string path(url->path());
  if (!path.empty() && path != "/") {
    const std::string db = path.substr(1);
    const bool digits =
        !db.empty() && db.size() <= 2 &&
        std::all_of(db.begin(), db.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits) {
      *error = "has a database that is not a number (0–99)";
      return std::nullopt;
    }
    t.db = std::stoi(db);
  }
  return t;
}

std::vector<std::pair<std::string, std::string>> parseDotenv(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = trim(text.substr(start, nl - start));
    start = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));
    }
    if (!key.empty()) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Env processEnvWithDotenv(std::string dotenvText) {
  auto entries = parseDotenv(dotenvText);
  return [entries = std::move(entries)](std::string_view name) -> std::optional<std::string> {
    if (const char* v = std::getenv(std::string(name).c_str())) return std::string(v);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
      if (it->first == name) return it->second;
    return std::nullopt;
  };
}

std::string helpText() {
  std::string out =
      "qodo2api: an OpenAI-compatible gateway to the models behind Qodo.\n\n"
      "Usage: qodo2api [--help] [--version] [doctor]\n\n"
      "Configuration comes from the environment, then from ./.env (the environment wins):\n\n";
  for (const auto& v : variables()) {
    std::string line = "  " + std::string(v.name);
    line.resize(std::max<size_t>(line.size() + 1, 38), ' ');
    line += std::string(v.meaning);
    line += v.defaultValue.empty() ? " (default: empty)"
                                   : " (default: " + std::string(v.defaultValue) + ")";
    out += line + "\n";
  }
  return out;
}

}  // namespace config
