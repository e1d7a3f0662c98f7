// libcurl's process-wide set-up and the header-list helper (see curl_handles.h).
#include "upstream/curl_handles.h"

#include <stdexcept>

namespace upstream {

void ensureCurlInitialized() {
  // A function-local static: initialised exactly once even when several workers start at once.
  static const bool initialized = [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("libcurl could not be initialised");
    }
    return true;
  }();
  (void)initialized;
}

bool appendHeader(HeaderList& list, const char* line) {
  curl_slist* head = curl_slist_append(list.get(), line);
  if (head == nullptr) {
    return false;
  }
  // On success curl returns the same head for a non-empty list, or a new one-element list.
  (void)list.release();
  list.reset(head);
  return true;
}

}  // namespace upstream
