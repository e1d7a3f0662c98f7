// The request handler of one worker: guards (ip block → rate limit → auth), routing, CORS,
// the operational endpoints and the OpenAI and admin routes. Shared state (limiter, metrics,
// the chat and admin services) is owned by main and outlives the server.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/exchange.h"
#include "http/guards.h"

namespace obs {
class Metrics;
}

namespace http {

// A service that answers a route asynchronously on the worker's thread.
using RouteService = std::function<void(const std::shared_ptr<Exchange>& exchange)>;

struct GatewayServices {
  const config::Config* config = nullptr;
  obs::Metrics* metrics = nullptr;
  RateLimiter* rateLimiter = nullptr;
  SharedRateLimit* sharedRateLimit = nullptr;  // REDIS_URL: the fleet's; else none
  const IpBlockList* blockList = nullptr;
  const ApiKeyAuth* apiAuth = nullptr;
  long modelsCreated = 0;                  // "created" of every model in /v1/models
  // The models command accounts list now, shown after the seed table in /v1/models.
  std::function<std::vector<std::string>()> liveModels;
  std::function<bool()> ready;             // /readyz: at least one usable account
  std::function<std::string()> readyInfo;  // /readyz body details (JSON object text)
};

struct GatewayRoutes {
  RouteService chat;       // POST /v1/chat/completions
  RouteService messages;     // POST /v1/messages
  RouteService countTokens;  // POST /v1/messages/count_tokens
  RouteService adminList;  // GET /admin/accounts
  RouteService adminAdd;   // POST /admin/accounts
  std::function<void(const std::shared_ptr<Exchange>&, int64_t id)> adminDelete;
  std::function<void(const std::shared_ptr<Exchange>&, int64_t id)> adminEnable;
  std::function<void(const std::shared_ptr<Exchange>&, int64_t id)> adminDisable;
  std::function<void(const std::shared_ptr<Exchange>&, int64_t id)> adminTest;
  // Runs a function on this worker's thread (answers of shared services come back through it).
  std::function<void(std::function<void()>)> post;
};

class Gateway final : public Handler {
 public:
  Gateway(const GatewayServices& services, GatewayRoutes routes);
  void handle(const std::shared_ptr<Exchange>& exchange) override;

 private:
  // Everything after the rate limit: auth and the routes.
  void admitted(const std::shared_ptr<Exchange>& exchange);
  void refuse(const std::shared_ptr<Exchange>& exchange, int retryAfterSeconds);

  const GatewayServices& services_;
  GatewayRoutes routes_;
  ApiKeyAuth adminAuth_;
};

}  // namespace http
