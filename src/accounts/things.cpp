#include "accounts/things.h"

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <memory>
#include <random>

namespace accounts {
namespace {

constexpr size_t kMaxBodyBytes = size_t{1024} * 1024;
constexpr size_t kMaxErrorLength = 200;

std::string requestId() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const uint64_t a = random(), b = random();
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return out;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string withoutTrailingSlash(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

std::string errorText(int status, std::string_view body) {
  std::string message = "get-things answered HTTP " + std::to_string(status);
  boost::system::error_code ec;
  auto parsed = boost::json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    for (const char* field : {"message", "error", "detail"}) {
      const auto* v = parsed.as_object().if_contains(field);
      if (v != nullptr && v->is_string() && !v->get_string().empty()) {
        message += ": " + std::string(v->get_string());
        break;
      }
    }
  }
  if (message.size() > kMaxErrorLength) message.resize(kMaxErrorLength);
  return message;
}

}  // namespace

upstream::Request buildThingsRequest(std::string_view baseUrl, std::string_view apiKey,
                                     std::string_view id) {
  upstream::Request out;
  out.url = withoutTrailingSlash(baseUrl) + "/v2/info/get-things";
  out.method = "GET";
  out.headers = {"Accept: text/plain",
                 "Content-Type: application/json",
                 "Request-id: " + std::string(id),
                 "Session-id: " + std::string(id),
                 "Authorization: Bearer " + std::string(apiKey),
                 "User-Agent: axios/1.12.2"};
  return out;
}

void noteQuotaHeader(std::string_view name, std::string_view value, Quota& quota) {
  std::optional<int64_t>* field = nullptr;
  if (equalsIgnoringCase(name, "x-ratelimit-limit"))
    field = &quota.limit;
  else if (equalsIgnoringCase(name, "x-ratelimit-remaining"))
    field = &quota.remaining;
  else if (equalsIgnoringCase(name, "x-ratelimit-reset"))
    field = &quota.resetAt;
  if (field == nullptr) return;
  int64_t parsed = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (ec == std::errc() && end == value.data() + value.size()) *field = parsed;
}

ExchangeResult parseThingsResponse(int status, std::string_view body, std::string_view baseUrl,
                                   const Quota& quota) {
  ExchangeResult result;
  if (status != 200) {
    result.error = status == 407 ? "the proxy (PROXY_URL) wants other credentials: HTTP 407"
                                 : errorText(status, body);
    result.status = status == 401 || status == 403 ? ExchangeStatus::kRejected
                                                   : ExchangeStatus::kTransient;
    return result;
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    result.error = "get-things answered something that is not a JSON object";
    return result;
  }
  const auto& object = parsed.as_object();
  // {"type":"error","message":…} with a 2xx counts as a failure (QODO-PROTOCOL.md §3).
  if (const auto* type = object.if_contains("type");
      type != nullptr && type->is_string() && type->get_string() == "error") {
    result.error = errorText(status, body);
    return result;
  }
  CommandInfo info;
  if (const auto* models = object.if_contains("models"); models != nullptr && models->is_array()) {
    for (const auto& m : models->get_array()) {
      const auto* entry = m.if_object();
      const auto* name = entry != nullptr ? entry->if_contains("model_name") : nullptr;
      if (name == nullptr || !name->is_string() || name->get_string().empty() ||
          name->get_string().size() > 200)
        continue;
      info.models.emplace_back(name->get_string());
    }
  }
  if (info.models.empty()) {
    result.error = "get-things listed no models";
    return result;
  }
  if (const auto* d = object.if_contains("default_model"); d != nullptr && d->is_string())
    info.defaultModel = std::string(d->get_string());
  info.baseUrl = withoutTrailingSlash(baseUrl);
  if (const auto* b = object.if_contains("base_url"); b != nullptr && b->is_string()) {
    const std::string tenant = withoutTrailingSlash(b->get_string());
    if (tenant.rfind("http://", 0) == 0 || tenant.rfind("https://", 0) == 0) info.baseUrl = tenant;
  }
  info.quota = quota;
  result.status = ExchangeStatus::kOk;
  result.expiresIn = kThingsLifetime;
  result.info = std::move(info);
  return result;
}

namespace {

// One get-things call; follows a tenant base_url that differs from the base it asked.
void fetchThings(upstream::Client& client, std::string apiKey, std::string baseUrl, int hops,
                 ExchangeDone done) {
  struct Answer {
    std::string body;
    int status = 0;
    Quota quota;
  };
  auto answer = std::make_shared<Answer>();
  upstream::Handlers handlers;
  handlers.onHeader = [answer](std::string_view name, std::string_view value) {
    noteQuotaHeader(name, value, answer->quota);
  };
  handlers.onStatus = [answer](int s) { answer->status = s; };
  handlers.onData = [answer](std::string_view bytes) {
    if (answer->body.size() < kMaxBodyBytes)
      answer->body.append(bytes.substr(0, kMaxBodyBytes - answer->body.size()));
    return upstream::Flow::kContinue;
  };
  upstream::Request request = buildThingsRequest(baseUrl, apiKey, requestId());
  handlers.onDone = [&client, answer, apiKey = std::move(apiKey), baseUrl = std::move(baseUrl),
                     hops, done = std::move(done)](const upstream::Result& r) mutable {
    if (r.error != upstream::ErrorKind::kNone) {
      ExchangeResult failed;
      failed.error = "get-things failed: " +
                     (r.message.empty() ? std::string(upstream::describe(r.error)) : r.message);
      done(std::move(failed));
      return;
    }
    ExchangeResult result = parseThingsResponse(r.status != 0 ? r.status : answer->status,
                                                answer->body, baseUrl, answer->quota);
    if (result.status == ExchangeStatus::kOk && result.info->baseUrl != baseUrl &&
        hops < kMaxRedirects) {
      std::string tenant = result.info->baseUrl;
      fetchThings(client, std::move(apiKey), std::move(tenant), hops + 1, std::move(done));
      return;
    }
    if (result.status == ExchangeStatus::kOk) result.accessToken = apiKey;
    done(std::move(result));
  };
  client.start(std::move(request), std::move(handlers));
}

}  // namespace

Exchanger thingsExchanger(upstream::Client& client, std::string commandUrl) {
  return [&client, commandUrl = withoutTrailingSlash(commandUrl)](const ExchangeRequest& request,
                                                                  ExchangeDone done) {
    fetchThings(client, request.refreshToken,
                request.baseUrl.empty() ? commandUrl : withoutTrailingSlash(request.baseUrl), 0,
                std::move(done));
  };
}

}  // namespace accounts
