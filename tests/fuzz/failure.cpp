// qodo::classifyFailure on any status and body: never crashes, and keeps the precedence of
// SPEC.md §4's failure table (the usage and Chinese phrases first, then the status).
#include "qodo/failure.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"

using qodo::Failure;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const int status = static_cast<int>(in.byte()) << 8 | in.byte();  // 0..65535
  const std::string_view body = in.rest();
  const Failure f = qodo::classifyFailure(status, body);
  FUZZ_CHECK(qodo::describe(f) != "unknown");
  const bool chinese = body.find("Detected that you are using Chinese") != std::string_view::npos;
  if (chinese) FUZZ_CHECK(f == Failure::kChineseDetected || f == Failure::kUsageExhausted);
  if (f == Failure::kUsageExhausted) {
    FUZZ_CHECK(body.find("Usage limit exceeded") != std::string_view::npos);
  }
  if (f == Failure::kNone) FUZZ_CHECK(status >= 200 && status <= 299);
  if (f == Failure::kForbidden) FUZZ_CHECK(status == 403);
  if (f == Failure::kServerError) FUZZ_CHECK(status >= 500 && status <= 599);
  if (status == 429 && !chinese) {
    FUZZ_CHECK(f == Failure::kRateLimited || f == Failure::kUsageExhausted);
  }
  if (status == 401 && !chinese) {
    FUZZ_CHECK(f == Failure::kInvalidToken || f == Failure::kUsageExhausted ||
               f == Failure::kRateLimited);
  }
  if (status >= 500 && status <= 599 && f != Failure::kServerError) {
    FUZZ_CHECK(f == Failure::kUsageExhausted || f == Failure::kChineseDetected ||
               f == Failure::kRateLimited || f == Failure::kInvalidToken);
  }
  // A body is classified the same with or without the SSE prefix.
  if (!body.empty() && body.front() == '{' && body.size() < 4096) {
    std::string prefixed = "data:";
    prefixed += body;
    FUZZ_CHECK(qodo::classifyFailure(status, prefixed) == f);
  }
  // Deterministic.
  FUZZ_CHECK(qodo::classifyFailure(status, body) == f);
  return 0;
}
