// What the emulator does for each request, as data: the scenario JSON (README.md) parsed into
// plain values. Sequences are resolved at load time, so the server only picks a step and never
// merges JSON on the request path.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace emu {

// How a chat answer goes wrong. `none` is the normal answer.
enum class ChatFail {
  kNone,
  kStatus,             // `status` with `body` (named shortcuts below fill both)
  kInvalidTokenFirst,  // 401 Invalid token, only for the account's first access token
  kDisconnect,         // close the socket after `afterEvents` events, no terminating chunk
  kHangBeforeHeaders,
  kHangAfterHeaders,
  kHangAfterEvents,  // after `afterEvents` events
};

struct ChatBehaviour {
  int events = 5;
  int intervalMs = 20;
  std::string word = "tok";         // piece i is "<word><i>" (a space between pieces)
  std::vector<std::string> pieces;  // explicit pieces win over `word`
  bool echo = false;                // pieces are the words of the request's chat_input
  std::string model;                // used_model; empty: the request's custom_model
  std::string subType = "code_implementation";
  bool dataPrefix = false;         // "data: " before each event line
  bool blankLines = false;         // an empty line after each event line
  int statusEvents = 0;            // non-text events: one first, the rest between text events
  bool onlyNonText = false;        // the answer holds status events and no text at all
  bool done = false;               // a trailing "[DONE]" line
  std::string think;               // reasoning sent as <think>…</think> before the text
  int garbageLines = 0;            // non-JSON lines mixed between the events
  std::uint64_t oversizeLine = 0;  // one line of this many bytes after the first event
  bool gzip = false;               // compress when the request accepts gzip
  std::uint64_t gzipBomb = 0;      // answer is gzip that inflates to this many bytes
  ChatFail fail = ChatFail::kNone;
  int status = 200;
  std::string body;
  int afterEvents = 0;
  std::string failName = "none";  // recorded in stats so tests see which failure was served
};

// How a refresh-token exchange goes.
enum class TokenFail { kNone, kFirebaseError, kStatus, kHang };

struct TokenBehaviour {
  int expiresIn = 3600;
  bool rotate = false;   // each exchange returns a new refresh token for the account
  bool oldValid = true;  // after rotation the previous refresh token still works
  TokenFail fail = TokenFail::kNone;
  std::string errorMessage;  // kFirebaseError: INVALID_REFRESH_TOKEN, TOKEN_EXPIRED, …
  int status = 200;          // kStatus
  std::string failName = "none";
};

template <typename B>
struct Step {
  int times = 1;
  B behaviour;
};

// A base behaviour followed, for the first requests, by its sequence steps.
template <typename B>
struct Scripted {
  B base;
  std::vector<Step<B>> sequence;

  // The behaviour of the request that is the `index`-th (0-based) to use this script.
  const B& pick(std::uint64_t index) const {
    for (const auto& step : sequence) {
      if (index < static_cast<std::uint64_t>(step.times)) return step.behaviour;
      index -= static_cast<std::uint64_t>(step.times);
    }
    return base;
  }
};

struct AccountScript {
  Scripted<TokenBehaviour> token;
  Scripted<ChatBehaviour> chat;
};

struct Scenario {
  bool strict = false;  // unknown refresh tokens are refused
  std::string apiKey;   // empty: any non-empty key is accepted
  std::size_t recordLimit = 200;
  AccountScript defaults;
  std::map<std::string, AccountScript> accounts;  // keyed by the configured refresh token
  boost::json::value source;  // the JSON it was read from, echoed by /_emulator/stats
};

// Parses a scenario; `base` holds the command-line defaults the scenario's `default` refines.
// Throws std::invalid_argument naming the offending field.
Scenario parseScenario(const boost::json::value& json, const ChatBehaviour& base);

}  // namespace emu
