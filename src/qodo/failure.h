// What a backend answer means for the account and the request (SPEC.md §4's failure table),
// decided from the HTTP status and the first bytes of the body. The backend also reports these
// errors inside a 200 body, so a 200's first event line is classified the same way.
#pragma once

#include <string_view>

#include "conversation/event.h"

namespace qodo {

// The failure kinds are the backend-neutral ones of the event model (conversation/event.h).
using Failure = conversation::Failure;

// `body` is the start of the body (a few hundred bytes is enough) or one event line; a
// leading `data:` is allowed.
Failure classifyFailure(int status, std::string_view body);

// "usage limit exceeded" and the like, for logs, the admin API's last_error and 503 messages.
std::string_view describe(Failure failure);

}  // namespace qodo
