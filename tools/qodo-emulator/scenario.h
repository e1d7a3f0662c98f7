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

// A tool call a chats answer writes as markup (SPEC §10's emulation), as a model would.
struct ChatToolCall {
  std::string name;                 // empty: no call
  std::string arguments = "{}";     // a JSON object
  std::string form = "function_calls";  // or "tool_call"
  std::string before;               // text before the markup
  std::string unlessContains;       // when the request holds this text: answer `answerAfter`
  std::string answerAfter = "done";
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
  ChatToolCall toolCall;           // the answer is a call in markup
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

// How `GET /v2/info/get-things` answers a Qodo API key (the command backend's account info).
enum class InfoFail { kNone, kUnauthorized, kStatus, kGarbage };

struct InfoBehaviour {
  std::vector<std::string> models = {"claude-4.5-sonnet", "gpt-5", "gpt-4o"};
  std::string defaultModel = "claude-4.5-sonnet";
  std::string baseUrl;      // `base_url` (tenant redirect); empty: not sent
  int quotaLimit = -1;      // x-ratelimit-limit; -1: no rate-limit headers
  int quotaRemaining = 0;   // x-ratelimit-remaining
  int quotaResetIn = 3600;  // x-ratelimit-reset = now + this many seconds
  int delayMs = 0;          // wait before answering
  InfoFail fail = InfoFail::kNone;
  int status = 500;  // kStatus
  std::string failName = "none";
};

// How a command WebSocket session answers (Ready, then the UserQuery's answer).
enum class SessionFail {
  kNone,
  kUnauthorized,  // the upgrade is refused with 401
  kClose1008,     // the upgrade is accepted, then the socket is closed with 1008
  kNoReady,       // the socket opens and the server never says Ready
  kErrorFrame,    // after `afterEvents` text frames: an error frame carrying `message`
  kStall,         // after `afterEvents` text frames: silence
  kClose,         // after `afterEvents` text frames: closed without EndNode
};

struct SessionBehaviour {
  int events = 5;
  int intervalMs = 20;
  std::string word = "tok";
  std::string think;     // sent first as <think>…</think>
  std::string toolCall;  // a client tool the answer calls (server "client"); empty: none
  std::string toolArguments = "{}";      // its arguments, a JSON object
  std::string answerAfterTool = "done";  // the text after an IDERetrievalAnswer
  // The call is one the server ran itself: sent with its tool_result filled, on the server's
  // own tool server ("qodo_tools"), and the answer goes on without waiting for the client.
  bool toolServerRun = false;
  // When the UserQuery holds this text (the call's result is already there), the answer is
  // `answerAfterTool` without a call: a stateless agent loop's second request.
  std::string toolUnless;
  SessionFail fail = SessionFail::kNone;
  std::string message = "Internal error";  // kErrorFrame
  int afterEvents = 0;
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

// An account: a refresh token (token, chat) or a Qodo API key (info, session).
struct AccountScript {
  Scripted<TokenBehaviour> token;
  Scripted<ChatBehaviour> chat;
  Scripted<InfoBehaviour> info;
  Scripted<SessionBehaviour> session;
};

struct Scenario {
  bool strict = false;  // unknown refresh tokens are refused
  std::string apiKey;   // empty: any non-empty key is accepted
  std::size_t recordLimit = 200;
  AccountScript defaults;
  std::map<std::string, AccountScript> accounts;  // keyed by refresh token or API key
  boost::json::value source;  // the JSON it was read from, echoed by /_emulator/stats
};

// Parses a scenario; `base` holds the command-line defaults the scenario's `default` refines.
// Throws std::invalid_argument naming the offending field.
Scenario parseScenario(const boost::json::value& json, const ChatBehaviour& base);

}  // namespace emu
