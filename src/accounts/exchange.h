// The Firebase token exchange (SPEC §5): refresh token → access token. The refresher takes an
// Exchanger so tests pass a fake; firebaseExchanger() is the real one on upstream::Client.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "accounts/account.h"
#include "upstream/client.h"

namespace accounts {

// A chats account's token exchange, or a command account's get-things (accounts/things.h):
// both give the pool a credential that serves, so the refresher runs them the same way.
struct ExchangeRequest {
  ExchangeRequest(std::string apiKey_, std::string refreshToken_,
                  AccountKind kind_ = AccountKind::kChats, std::string baseUrl_ = {})
      : apiKey(std::move(apiKey_)),
        refreshToken(std::move(refreshToken_)),
        kind(kind_),
        baseUrl(std::move(baseUrl_)) {}
  std::string apiKey;
  std::string refreshToken;  // command: the Qodo API key
  AccountKind kind = AccountKind::kChats;
  std::string baseUrl;  // command: the tenant base URL last followed; empty: the configured one
};

enum class ExchangeStatus {
  kOk,
  kRejected,   // Firebase refused the token or the key (4xx): the account is invalid
  kTransient,  // network, timeout, 5xx, 429, unreadable answer: retry with back-off
};

struct ExchangeResult {
  ExchangeStatus status = ExchangeStatus::kTransient;
  std::string accessToken;
  std::chrono::milliseconds expiresIn{0};
  std::string refreshToken;  // may differ from the one sent: Firebase rotated it
  std::string error;         // e.g. "INVALID_REFRESH_TOKEN", "HTTP 503"; never holds secrets
  std::optional<CommandInfo> info;  // command: what get-things said
};

using ExchangeDone = std::function<void(ExchangeResult)>;
// Must call `done` exactly once, on the control thread, never synchronously from inside the call.
using Exchanger = std::function<void(const ExchangeRequest&, ExchangeDone done)>;

// `POST {tokenUrl}?key=<apiKey>` with the web client's headers and the form-encoded body.
upstream::Request buildExchangeRequest(std::string_view tokenUrl, const ExchangeRequest& request);

// Classifies a complete answer: 200 with an access token → kOk; 408, 429, 5xx or an unreadable
// 200 → kTransient; any other status (400 INVALID_REFRESH_TOKEN, TOKEN_EXPIRED, USER_DISABLED,
// USER_NOT_FOUND, a bad API key, …) → kRejected.
ExchangeResult parseExchangeResponse(int status, std::string_view body);

// Runs chats requests on `chats` and command requests on `command`.
Exchanger byKind(Exchanger chats, Exchanger command);

// The real exchanger. `client` belongs to the control thread's io_context and must outlive it.
Exchanger firebaseExchanger(upstream::Client& client, std::string tokenUrl);

}  // namespace accounts
