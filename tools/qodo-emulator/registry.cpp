// One mutex guards everything: it is taken a few times per request (never per event), which
// keeps the code obvious and is far below what a benchmark on this emulator can notice.
#include "registry.h"

#include <functional>
#include <random>

namespace emu {
namespace json = boost::json;
namespace {

std::string base64Url(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string userIdOf(const std::string& account) {
  auto h = std::hash<std::string>{}(account);
  char buf[32];
  std::snprintf(buf, sizeof buf, "emu%016zx", h);
  return buf;
}

// JWT-shaped, like Firebase's ID tokens, so a client that peeks at `exp` finds one.
std::string makeAccessToken(std::uint64_t serial, const std::string& userId, int expiresIn) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto nowSec = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  json::object payload{{"iss", "https://securetoken.google.com/qodo-emulator"},
                       {"aud", "qodo-emulator"},
                       {"user_id", userId},
                       {"sub", userId},
                       {"iat", nowSec},
                       {"exp", nowSec + expiresIn},
                       {"serial", serial}};
  char sig[40];
  std::snprintf(sig, sizeof sig, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return base64Url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64Url(json::serialize(payload)) +
         "." + base64Url(sig);
}

}  // namespace

Registry::Registry(Scenario scenario)
    : scenario_(std::make_shared<const Scenario>(std::move(scenario))) {}

void Registry::replaceScenario(Scenario scenario) {
  std::lock_guard lock(mutex_);
  scenario_ = std::make_shared<const Scenario>(std::move(scenario));
  tokenSequence_.clear();
  chatSequence_.clear();
  infoSequence_.clear();
  sessionSequence_.clear();
}

std::string Registry::expectedApiKey() {
  std::lock_guard lock(mutex_);
  return scenario_->apiKey;
}

ChatBehaviour Registry::defaultChat() {
  std::lock_guard lock(mutex_);
  return scenario_->defaults.chat.base;
}

// Accounts the scenario names have their own sequence positions; every other account shares
// the default's, so "the next N requests" in `default` means N requests whichever the account.
const AccountScript& Registry::scriptFor(const std::string& account,
                                         std::string& sequenceKey) const {
  auto it = scenario_->accounts.find(account);
  if (it != scenario_->accounts.end()) {
    sequenceKey = "account:" + account;
    return it->second;
  }
  sequenceKey = "default";
  return scenario_->defaults;
}

Exchange Registry::exchange(const std::string& refreshToken, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Exchange out;
  auto rt = refreshTokens_.find(refreshToken);
  if (rt == refreshTokens_.end()) {
    bool configured = scenario_->accounts.count(refreshToken) > 0;
    if (scenario_->strict && !configured) {
      out.kind = Exchange::Kind::kRefused;
      out.account = refreshToken;
      return out;
    }
    rt = refreshTokens_.emplace(refreshToken, RefreshToken{refreshToken, true}).first;
  }
  out.account = rt->second.account;
  if (!rt->second.valid) {
    out.kind = Exchange::Kind::kRefused;
    return out;
  }
  std::string key;
  const auto& script = scriptFor(out.account, key);
  const TokenBehaviour& b = script.token.pick(tokenSequence_[key]++);
  if (b.fail != TokenFail::kNone) {
    out.kind = Exchange::Kind::kScripted;
    out.behaviour = b;
    return out;
  }
  out.behaviour = b;
  out.userId = userIdOf(out.account);
  std::uint64_t serial = nextToken_++;
  out.accessToken = makeAccessToken(serial, out.userId, b.expiresIn);
  std::uint64_t ordinal = ++issued_[out.account];
  accessTokens_[out.accessToken] =
      AccessToken{out.account, ordinal, now + std::chrono::seconds(b.expiresIn)};
  out.refreshToken = refreshToken;
  if (b.rotate) {
    out.refreshToken = out.account + ".rot" + std::to_string(serial);
    refreshTokens_[out.refreshToken] = RefreshToken{out.account, true};
    if (!b.oldValid) refreshTokens_[refreshToken].valid = false;
  }
  return out;
}

ChatGrant Registry::authorizeChat(const std::string& accessToken, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  ChatGrant g;
  auto it = accessTokens_.find(accessToken);
  if (it == accessTokens_.end()) return g;
  g.account = it->second.account;
  if (now >= it->second.expiresAt) return g;
  g.authorized = true;
  g.ordinal = it->second.ordinal;
  std::string key;
  const auto& script = scriptFor(g.account, key);
  g.behaviour = script.chat.pick(chatSequence_[key]++);
  return g;
}

template <typename B>
KeyGrant<B> Registry::grantKey(const std::string& apiKey, Scripted<B> AccountScript::*script,
                               std::map<std::string, std::uint64_t>& positions) {
  std::lock_guard lock(mutex_);
  KeyGrant<B> g;
  g.account = apiKey;
  if (apiKey.empty() || (scenario_->strict && !scenario_->accounts.contains(apiKey))) return g;
  std::string key;
  g.behaviour = (scriptFor(apiKey, key).*script).pick(positions[key]++);
  g.authorized = g.behaviour.failName != "unauthorized";
  return g;
}

KeyGrant<InfoBehaviour> Registry::authorizeInfo(const std::string& apiKey) {
  return grantKey(apiKey, &AccountScript::info, infoSequence_);
}

KeyGrant<SessionBehaviour> Registry::authorizeSession(const std::string& apiKey) {
  return grantKey(apiKey, &AccountScript::session, sessionSequence_);
}

std::uint64_t Registry::record(json::object entry) {
  std::lock_guard lock(mutex_);
  std::uint64_t id = nextRecord_++;
  entry["id"] = id;
  records_.emplace_back(id, std::move(entry));
  while (records_.size() > scenario_->recordLimit) records_.pop_front();
  return id;
}

void Registry::annotate(std::uint64_t id, const std::string& field, const std::string& value) {
  std::lock_guard lock(mutex_);
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->first == id) {
      it->second[field] = value;
      return;
    }
  }
}

void Registry::finish(std::uint64_t id, const std::string& account, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  ++counters_[outcome];
  if (!account.empty()) ++accountCounters_[account][outcome];
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->first == id) {
      it->second["outcome"] = outcome;
      break;
    }
    if (it->first < id) break;
  }
}

void Registry::count(const std::string& counter, const std::string& account) {
  std::lock_guard lock(mutex_);
  ++counters_[counter];
  if (!account.empty()) ++accountCounters_[account][counter];
}

void Registry::streamOpened() {
  std::lock_guard lock(mutex_);
  ++openStreams_;
  peakStreams_ = std::max(peakStreams_, openStreams_);
}

void Registry::streamClosed() {
  std::lock_guard lock(mutex_);
  --openStreams_;
}

json::value Registry::stats() {
  std::lock_guard lock(mutex_);
  json::object counters;
  for (const auto& [name, n] : counters_) counters[name] = n;
  json::object accounts;
  for (const auto& [account, cs] : accountCounters_) {
    json::object o;
    for (const auto& [name, n] : cs) o[name] = n;
    accounts[account] = std::move(o);
  }
  json::array requests;
  for (const auto& [id, entry] : records_) requests.push_back(entry);
  json::object refresh;
  for (const auto& [token, rt] : refreshTokens_)
    refresh[token] = json::object{{"account", rt.account}, {"valid", rt.valid}};
  return json::object{{"counters", std::move(counters)},      {"open_streams", openStreams_},
                      {"peak_open_streams", peakStreams_},    {"accounts", std::move(accounts)},
                      {"refresh_tokens", std::move(refresh)}, {"requests", std::move(requests)},
                      {"scenario", scenario_->source}};
}

void Registry::reset() {
  std::lock_guard lock(mutex_);
  counters_.clear();
  accountCounters_.clear();
  records_.clear();
  tokenSequence_.clear();
  chatSequence_.clear();
  infoSequence_.clear();
  sessionSequence_.clear();
  peakStreams_ = openStreams_;
}

}  // namespace emu
