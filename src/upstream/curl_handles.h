// RAII owners for libcurl's C handles, so that every path out of a function releases them, and
// the one process-wide libcurl initialisation.
#pragma once

#include <curl/curl.h>

#include <memory>

namespace upstream {

struct EasyDeleter {
  void operator()(CURL* easy) const noexcept { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
};
struct ShareDeleter {
  void operator()(CURLSH* share) const noexcept { curl_share_cleanup(share); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;
using ShareHandle = std::unique_ptr<CURLSH, ShareDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init once per process, before the first handle; safe from any thread.
void ensureCurlInitialized();

// Appends one "Name: value" line; false when libcurl is out of memory (the list is unchanged).
bool appendHeader(HeaderList& list, const char* line);

}  // namespace upstream
