// What a failed libcurl transfer means for the caller: CURLcode plus what we know about the
// transfer (proxy in use, response started) → ErrorKind. Pure, so every mapping is unit-tested.
#pragma once

#include <curl/curl.h>

#include "upstream/client.h"

namespace upstream {

struct FailureContext {
  bool viaProxy = false;         // Options::proxyUrl was set
  bool responseStarted = false;  // at least one byte of the response arrived
  long proxyConnectStatus = 0;   // CURLINFO_HTTP_CONNECTCODE: the proxy's answer to CONNECT
};

ErrorKind classifyCurlError(CURLcode code, const FailureContext& context);

}  // namespace upstream
