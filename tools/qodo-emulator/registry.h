// The emulator's shared state, safe to use from every worker thread: the scenario, which
// refresh and access tokens exist and whose account they are, the position of each account in
// its scripted sequence, counters, and the last recorded requests for /_emulator/stats.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "scenario.h"

namespace emu {

using Clock = std::chrono::steady_clock;

struct Exchange {
  enum class Kind { kIssued, kRefused, kScripted };
  Kind kind = Kind::kIssued;
  std::string account;
  TokenBehaviour behaviour;  // kScripted: how to fail
  std::string accessToken;   // kIssued
  std::string refreshToken;  // kIssued: the one to return (rotated or the same)
  std::string userId;
};

struct ChatGrant {
  bool authorized = false;
  std::string account;
  std::uint64_t ordinal = 0;  // 1 for the account's first access token
  ChatBehaviour behaviour;
};

// A Qodo API key's get-things or WebSocket session: whether it is accepted, and how to answer.
template <typename B>
struct KeyGrant {
  bool authorized = false;
  std::string account;  // the key itself names the account
  B behaviour;
};

class Registry {
 public:
  explicit Registry(Scenario scenario);

  // Replaces the scenario and restarts every sequence; tokens already issued stay valid.
  void replaceScenario(Scenario scenario);

  Exchange exchange(const std::string& refreshToken, Clock::time_point now);
  ChatGrant authorizeChat(const std::string& accessToken, Clock::time_point now);
  // Command backend: any non-empty key is an account unless the scenario is strict; each call
  // takes the next step of the key's get_things or session sequence.
  KeyGrant<InfoBehaviour> authorizeInfo(const std::string& apiKey);
  KeyGrant<SessionBehaviour> authorizeSession(const std::string& apiKey);
  std::string expectedApiKey();
  // The default chat behaviour (its base, without sequence): the OpenAI endpoint's timing.
  ChatBehaviour defaultChat();

  // Records a request (an object with at least "kind"); returns its id for finish().
  std::uint64_t record(boost::json::object entry);
  // Closes a recorded request: bumps the counter named after `outcome` (global and per
  // account) and writes the outcome into the record while it is still kept.
  void finish(std::uint64_t id, const std::string& account, const std::string& outcome);
  void count(const std::string& counter, const std::string& account = {});
  // Adds `field` to a recorded request while it is still kept (a session's frames).
  void annotate(std::uint64_t id, const std::string& field, const std::string& value);

  void streamOpened();
  void streamClosed();

  boost::json::value stats();
  void reset();  // counters, records and sequence positions

 private:
  struct AccessToken {
    std::string account;
    std::uint64_t ordinal;
    Clock::time_point expiresAt;
  };
  struct RefreshToken {
    std::string account;
    bool valid = true;
  };

  const AccountScript& scriptFor(const std::string& account, std::string& sequenceKey) const;
  template <typename B>
  KeyGrant<B> grantKey(const std::string& apiKey, Scripted<B> AccountScript::*script,
                       std::map<std::string, std::uint64_t>& positions);

  std::mutex mutex_;
  std::shared_ptr<const Scenario> scenario_;
  std::unordered_map<std::string, RefreshToken> refreshTokens_;
  std::unordered_map<std::string, AccessToken> accessTokens_;
  std::unordered_map<std::string, std::uint64_t> issued_;  // access tokens per account
  std::map<std::string, std::uint64_t> tokenSequence_;
  std::map<std::string, std::uint64_t> chatSequence_;
  std::map<std::string, std::uint64_t> infoSequence_;
  std::map<std::string, std::uint64_t> sessionSequence_;
  std::map<std::string, std::uint64_t> counters_;
  std::map<std::string, std::map<std::string, std::uint64_t>> accountCounters_;
  std::deque<std::pair<std::uint64_t, boost::json::object>> records_;
  std::uint64_t nextRecord_ = 1;
  std::uint64_t nextToken_ = 1;
  std::int64_t openStreams_ = 0;
  std::int64_t peakStreams_ = 0;
};

}  // namespace emu
