// A command account's get-things (SPEC §9, QODO-PROTOCOL.md §4): `GET {base}/v2/info/get-things`
// with the key as the bearer tells its models, its default model, its tenant base URL (followed,
// at most kMaxRedirects times) and its quota (x-ratelimit-* headers). For the refresher it is the
// command account's "exchange": a 401 or 403 marks the key invalid; a slow, failing or
// unreadable answer is retried with back-off while the other accounts serve.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "accounts/account.h"
#include "accounts/exchange.h"
#include "upstream/client.h"

namespace accounts {

inline constexpr int kMaxRedirects = 3;
// get-things runs every 10 minutes: the refresher renews at 80% (± 10%) of this lifetime.
inline constexpr std::chrono::seconds kThingsLifetime{750};

// The request, with the CLI's headers (QODO-PROTOCOL.md §3).
upstream::Request buildThingsRequest(std::string_view baseUrl, std::string_view apiKey,
                                     std::string_view requestId);

// One x-ratelimit-* header into `quota` (other names are ignored; unparsable values too).
void noteQuotaHeader(std::string_view name, std::string_view value, Quota& quota);

// Classifies a complete answer from `baseUrl`. 200 with a JSON object listing at least one
// model → kOk with the info (its baseUrl: the answer's `base_url`, trailing '/' removed, or
// `baseUrl`); 401/403 → kRejected; anything else → kTransient.
ExchangeResult parseThingsResponse(int status, std::string_view body, std::string_view baseUrl,
                                   const Quota& quota);

// The real one, on the control thread's client. `commandUrl`: QODO_COMMAND_URL.
Exchanger thingsExchanger(upstream::Client& client, std::string commandUrl);

}  // namespace accounts
