// What a backend answer means for the account and the request (SPEC.md §4's failure table),
// decided from the HTTP status and the first bytes of the body. The backend also reports these
// errors inside a 200 body, so a 200's first event line is classified the same way.
#pragma once

#include <string_view>

namespace qodo {

enum class Failure {
  kNone,             // a normal answer
  kRateLimited,      // 429 / "Too many concurrent requests": the account rests
  kUsageExhausted,   // "Usage limit exceeded": the account leaves the rotation
  kInvalidToken,     // 401 / "Invalid token": refresh once, then invalid
  kForbidden,        // 403: a failure of the account
  kServerError,      // 5xx
  kChineseDetected,  // the backend refused a Chinese conversation: a 400 to the client
  kBackendError,     // any other non-2xx, or an unexpected {"error":…} in a 200 body
};

// `body` is the start of the body (a few hundred bytes is enough) or one event line; a
// leading `data:` is allowed.
Failure classifyFailure(int status, std::string_view body);

// "usage limit exceeded" and the like, for logs, the admin API's last_error and 503 messages.
std::string_view describe(Failure failure);

}  // namespace qodo
