// config::parseDotenv + config::load on any .env text: never crashes; a failure is one line
// that starts with the name of a documented variable; a success keeps every documented range.
#include "config/config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const int cores = in.byte() % 8;  // 0 too: a machine that reports no cores
  const std::string_view text = in.rest();

  const auto entries = config::parseDotenv(text);
  for (const auto& [key, value] : entries) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(key.find('\n') == std::string::npos && value.find('\n') == std::string::npos);
    FUZZ_CHECK(key.find('=') == std::string::npos);
  }
  // The last assignment wins, as in processEnvWithDotenv.
  const config::Env env = [&entries](std::string_view name) -> std::optional<std::string> {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return std::nullopt;
  };
  const config::LoadResult result = config::load(env, cores);
  if (!result.config) {
    FUZZ_CHECK(!result.error.empty());
    FUZZ_CHECK(result.error.find('\n') == std::string::npos);
    bool named = false;
    for (const auto& v : config::variables()) {
      const std::string head = std::string(v.name) + ": ";
      if (result.error.compare(0, head.size(), head) == 0) named = true;
    }
    FUZZ_CHECK(named);
    return 0;
  }
  FUZZ_CHECK(result.error.empty());
  const config::Config& c = *result.config;
  FUZZ_CHECK(c.workers >= 1 && c.workers <= 1024);
  FUZZ_CHECK(c.maxBodyBytes >= 1);
  FUZZ_CHECK(c.requestRateLimit >= 0);
  FUZZ_CHECK(c.headerTimeoutSeconds >= 1 && c.keepAliveTimeoutSeconds >= 1);
  FUZZ_CHECK(c.upstreamConnectTimeoutSeconds >= 1 && c.upstreamFirstByteTimeoutSeconds >= 1 &&
             c.upstreamIdleTimeoutSeconds >= 1);
  for (const auto& account : c.accounts) {
    FUZZ_CHECK(!account.apiKey.empty() && !account.refreshToken.empty());
  }
  FUZZ_CHECK(c.routePrefix.empty() ||
             (c.routePrefix.front() == '/' && c.routePrefix.back() != '/' &&
              c.routePrefix.find("//") == std::string::npos));
  FUZZ_CHECK(c.qodoApiBase.rfind("http://", 0) == 0 || c.qodoApiBase.rfind("https://", 0) == 0);
  FUZZ_CHECK(c.firebaseTokenUrl.rfind("http://", 0) == 0 ||
             c.firebaseTokenUrl.rfind("https://", 0) == 0);
  return 0;
}
