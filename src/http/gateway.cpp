#include "http/gateway.h"

#include <spdlog/spdlog.h>

#include "api/anthropic_request.h"
#include "api/error.h"
#include "api/json_text.h"
#include "api/models.h"
#include "http/assets.h"
#include "http/respond.h"
#include "http/router.h"
#include "obs/metrics.h"
#include "obs/stats.h"
#include "obs/secrets.h"

namespace http {

Gateway::Gateway(const GatewayServices& services, GatewayRoutes routes)
    : services_(services),
      routes_(std::move(routes)),
      adminAuth_(services.config->adminSecret.empty()
                     ? std::vector<std::string>{}
                     : std::vector<std::string>{services.config->adminSecret}) {}

namespace {

// Which API_SECRET key the request carries (x-api-key, Anthropic's header, or Authorization):
// true when one does (its name goes to `note` for usage) or when there is no client auth.
bool clientKeyAllowed(const ApiKeyAuth& auth, const RequestInfo& req, AccessNote& note) {
  if (!auth.enabled()) return true;
  std::optional<size_t> index;
  if (const std::string_view key = req.header("x-api-key"); !key.empty()) index = auth.match(key);
  if (!index) index = auth.match(req.header("authorization"));
  if (!index) return false;
  note.keyName = auth.name(*index);
  return true;
}

// A query parameter's raw value ("" when absent).
std::string_view queryParam(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, name.size()) == name && pair.size() > name.size() && pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool isDay(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// GET /admin/usage?from=YYYY-MM-DD&to=YYYY-MM-DD (both inclusive, both optional).
std::optional<api::ApiError> usageJson(std::string_view target, const obs::UsageLedger& ledger,
                                       std::string& out) {
  const std::string_view from = queryParam(target, "from");
  const std::string_view to = queryParam(target, "to");
  for (const auto& [name, value] : {std::pair{"from", from}, std::pair{"to", to}})
    if (!value.empty() && !isDay(value))
      return api::badRequest(std::string("'") + name + "' must be a day as YYYY-MM-DD.", name,
                             "invalid_value");
  out = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& row : ledger.rows(from, to)) {
    if (!first) out += ',';
    first = false;
    out += R"({"day":)";
    api::appendJsonString(out, row.day);
    out += R"(,"key":)";
    api::appendJsonString(out, row.key);
    out += R"(,"model":)";
    api::appendJsonString(out, row.model);
    out += R"(,"requests":)" + std::to_string(row.requests) +
           R"(,"prompt_tokens":)" + std::to_string(row.promptTokens) +
           R"(,"completion_tokens":)" + std::to_string(row.completionTokens) + "}";
  }
  out += "]}";
  return std::nullopt;
}

// A page's scripts and styles come from this origin only, no inline script, nothing remote;
// it cannot be framed. (Swagger UI sets inline styles, hence style-src 'unsafe-inline'.)
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'";

void serveAsset(Exchange& ex, std::string_view path, const std::string& prefix) {
  const Asset* asset = findAsset(path);
  if (!asset) return http::respondError(ex, api::notFound(ex.request().method, path));
  std::string body(asset->body);
  // A page's relative links resolve from where the gateway is mounted (ROUTE_PREFIX).
  if (asset->contentType.substr(0, 9) == "text/html") {
    if (const size_t head = body.find("<head>"); head != std::string::npos)
      body.insert(head + 6, "\n  <base href=\"" + prefix + "/\">");
  }
  // The document's server is wherever the gateway is mounted.
  if (path == "/openapi.json" && !prefix.empty()) {
    constexpr std::string_view kServer = R"("url": "/")";
    if (const size_t at = body.find(kServer); at != std::string::npos)
      body.replace(at, kServer.size(), R"("url": ")" + prefix + R"(/")");
  }
  ex.respond(200, asset->contentType, std::move(body),
             {{"Content-Security-Policy", std::string(kContentSecurityPolicy)},
              {"X-Content-Type-Options", "nosniff"},
              {"Referrer-Policy", "no-referrer"},
              {"Cache-Control", "no-cache"}});
}

// Anthropic's routes (a wrong method on them too: its label is the route's) answer errors in
// Anthropic's shape, every other route in OpenAI's.
bool anthropicRoute(const Route& r) { return r.label.substr(0, 12) == "/v1/messages"; }

void respondErrorFor(Exchange& ex, bool anthropic, const api::ApiError& error) {
  if (anthropic)
    http::respondAnthropicError(ex, error);
  else
    http::respondError(ex, error);
}

}  // namespace

void Gateway::handle(const std::shared_ptr<Exchange>& exchange) {
  Exchange& ex = *exchange;
  const RequestInfo& req = ex.request();
  const config::Config& cfg = *services_.config;

  const_cast<RequestInfo&>(req).clientIp =
      clientIp(req.clientIp, req.header("x-forwarded-for"), cfg.trustedProxies);

  if (cfg.debug)
    spdlog::debug("request id={} {} {} body={}", req.requestId, req.method, req.target,
                  obs::redactSecrets(req.body.substr(0, 64 * 1024)));

  if (req.method == "OPTIONS") {
    // A preflight for the admin API gets no CORS headers: another origin's page cannot call it.
    const Route target = route("GET", req.target, cfg.routePrefix);
    if (target.label.substr(0, 6) == "/admin") {
      ex.note().route = "/admin";
      return ex.respond(204, "text/plain", "");
    }
    ex.note().route = "preflight";
    ex.respond(204, "text/plain", "",
               {{"Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"},
                {"Access-Control-Allow-Headers",
                 "Authorization, Content-Type, X-Api-Key, Anthropic-Version, Anthropic-Beta"},
                {"Access-Control-Max-Age", "86400"}});
    return;
  }

  const Route r = route(req.method, req.target, cfg.routePrefix);
  ex.note().route = std::string(r.label);
  const bool anthropic = anthropicRoute(r);
  auto respondError = [&ex, anthropic](const api::ApiError& error) {
    respondErrorFor(ex, anthropic, error);
  };

  if (services_.blockList->blocked(req.clientIp)) return respondError(api::ipBlocked());

  // Operations endpoints: no prefix, no rate limit, no key (probes and scrapers).
  switch (r.id) {
    case RouteId::kHealthz:
      return ex.respond(200, "application/json", R"({"status":"ok"})");
    case RouteId::kReadyz: {
      const bool ready = services_.ready && services_.ready();
      std::string body = std::string(R"({"status":")") + (ready ? "ready" : "not_ready") + "\"";
      if (services_.readyInfo) body += "," + services_.readyInfo();
      body += "}";
      return ex.respond(ready ? 200 : 503, "application/json", std::move(body));
    }
    case RouteId::kMetrics:
      return ex.respond(200, "text/plain; version=0.0.4; charset=utf-8",
                        services_.metrics->render());
    default:
      break;
  }

  // Files served from the binary: no key, no rate limit (a page loads several at once).
  switch (r.id) {
    case RouteId::kAsset:
      return serveAsset(ex, r.asset, cfg.routePrefix);
    case RouteId::kConsole:
      return serveAsset(ex, adminAuth_.enabled() ? "/console/index.html" : "/console/about.html",
                        cfg.routePrefix);
    case RouteId::kSwaggerRedirect:
      return ex.respond(301, "text/plain; charset=utf-8", "", {{"Location", cfg.routePrefix + "/docs"}});
    default:
      break;
  }

  // The fleet's window when Redis answers (one round trip), this instance's otherwise.
  if (services_.sharedRateLimit != nullptr && routes_.post &&
      services_.sharedRateLimit->available()) {
    // The server releases the body and headers when handle() returns: they travel with the
    // check and are put back (and released again) around the rest of the handling.
    auto& held = const_cast<RequestInfo&>(req);
    auto kept = std::make_shared<std::pair<std::string, Headers>>(std::move(held.body),
                                                                  std::move(held.headers));
    services_.sharedRateLimit->check(
        req.clientIp,
        [this, exchange, kept, post = routes_.post](std::optional<RateLimiter::Decision> shared) {
          post([this, exchange, kept, shared] {
            auto& request = const_cast<RequestInfo&>(exchange->request());
            const auto decision = shared ? *shared
                                         : services_.rateLimiter->check(
                                               request.clientIp, std::chrono::steady_clock::now());
            if (!decision.allowed) return refuse(exchange, decision.retryAfterSeconds);
            request.body = std::move(kept->first);
            request.headers = std::move(kept->second);
            admitted(exchange);
            std::string().swap(request.body);
            Headers().swap(request.headers);
          });
        });
    return;
  }
  const auto decision =
      services_.rateLimiter->check(req.clientIp, std::chrono::steady_clock::now());
  if (!decision.allowed) return respondError(api::rateLimited(decision.retryAfterSeconds));
  admitted(exchange);
}

void Gateway::refuse(const std::shared_ptr<Exchange>& exchange, int retryAfterSeconds) {
  Exchange& ex = *exchange;
  const RequestInfo& req = ex.request();
  respondErrorFor(ex, anthropicRoute(route(req.method, req.target, services_.config->routePrefix)),
                  api::rateLimited(retryAfterSeconds));
}

void Gateway::admitted(const std::shared_ptr<Exchange>& exchange) {
  Exchange& ex = *exchange;
  const RequestInfo& req = ex.request();
  const config::Config& cfg = *services_.config;
  const Route r = route(req.method, req.target, cfg.routePrefix);
  const bool anthropic = anthropicRoute(r);
  auto respondError = [&ex, anthropic](const api::ApiError& error) {
    respondErrorFor(ex, anthropic, error);
  };

  const bool adminRoute = r.id == RouteId::kAdminAccounts || r.id == RouteId::kAdminAccount ||
                          r.id == RouteId::kAdminAccountEnable ||
                          r.id == RouteId::kAdminAccountDisable ||
                          r.id == RouteId::kAdminAccountTest || r.id == RouteId::kAdminUsage ||
                          r.id == RouteId::kAdminStats;
  if (adminRoute) {
    // With no ADMIN_SECRET the admin API does not exist.
    if (!adminAuth_.enabled())
      return respondError(api::notFound(req.method, pathOf(req.target)));
    if (!adminAuth_.allows(req.header("authorization")))
      return respondError(api::ApiError{401, "Invalid admin key.", "invalid_request_error",
                                            std::nullopt, "invalid_api_key"});
  } else if (r.id == RouteId::kModels || r.id == RouteId::kChatCompletions ||
             anthropic || r.id == RouteId::kMethodNotAllowed) {
    if (!clientKeyAllowed(*services_.apiAuth, req, ex.note()))
      return respondError(api::invalidApiKey());
  }

  switch (r.id) {
    case RouteId::kModels: {
      const auto live =
          services_.liveModels ? services_.liveModels() : std::vector<std::string>{};
      // An Anthropic client (it sends anthropic-version) reads Anthropic's list shape.
      if (!req.header("anthropic-version").empty())
        return ex.respond(200, "application/json",
                          api::anthropicModelsJson(services_.modelsCreated, live));
      return ex.respond(200, "application/json",
                        api::modelsListJson(services_.modelsCreated, live));
    }
    case RouteId::kChatCompletions:
      if (routes_.chat) return routes_.chat(exchange);
      return respondError(
          api::noAccount("No Qodo account is configured (set QD_COOKIE or QODO_API_KEYS)."));
    case RouteId::kMessages:
      if (routes_.messages) return routes_.messages(exchange);
      return respondError(
          api::noAccount("No Qodo account is configured (set QD_COOKIE or QODO_API_KEYS)."));
    case RouteId::kCountTokens:
      if (routes_.countTokens) return routes_.countTokens(exchange);
      break;
    case RouteId::kAdminStats:
      return ex.respond(200, "application/json",
                        services_.metrics->traffic().json(std::chrono::system_clock::now()));
    case RouteId::kAdminUsage: {
      std::string body;
      if (auto error = usageJson(req.target, services_.metrics->usage(), body))
        return respondError(*error);
      return ex.respond(200, "application/json", std::move(body));
    }
    case RouteId::kAdminAccounts:
      if (req.method == "GET" && routes_.adminList) return routes_.adminList(exchange);
      if (req.method == "POST" && routes_.adminAdd) return routes_.adminAdd(exchange);
      break;
    case RouteId::kAdminAccount:
      if (routes_.adminDelete) return routes_.adminDelete(exchange, r.accountId);
      break;
    case RouteId::kAdminAccountEnable:
      if (routes_.adminEnable) return routes_.adminEnable(exchange, r.accountId);
      break;
    case RouteId::kAdminAccountDisable:
      if (routes_.adminDisable) return routes_.adminDisable(exchange, r.accountId);
      break;
    case RouteId::kAdminAccountTest:
      if (routes_.adminTest) return routes_.adminTest(exchange, r.accountId);
      break;
    case RouteId::kMethodNotAllowed: {
      auto error = api::methodNotAllowed(req.method, pathOf(req.target));
      return ex.respond(405, "application/json",
                        anthropic ? api::anthropicErrorBody(error) : error.json(),
                        {{"Allow", r.allow}});
    }
    default:
      break;
  }
  respondError(api::notFound(req.method, pathOf(req.target)));
}

}  // namespace http
