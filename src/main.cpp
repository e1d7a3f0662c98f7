// Wiring only: configuration → logging → metrics → guards → server; signals and graceful stop.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "http/gateway.h"
#include "http/guards.h"
#include "http/server.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace {

std::string readFile(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void describeMetrics(obs::Metrics& metrics) {
  metrics.describe("qodo2api_http_requests_total", "counter", "HTTP requests by route and status");
  metrics.describe("qodo2api_http_request_duration_seconds", "histogram",
                   "Time from request read to response complete, by route");
  metrics.describe("qodo2api_active_streams", "gauge", "Streamed chat answers in progress");
  metrics.describe("qodo2api_upstream_attempts_total", "counter",
                   "Backend chat calls by outcome");
  metrics.describe("qodo2api_tokens_total", "counter", "Tokens counted, by direction (in, out)");
  metrics.describe("qodo2api_token_refreshes_total", "counter", "Account token exchanges by result");
  metrics.describe("qodo2api_accounts", "gauge", "Accounts by state");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << config::helpText();
      return 0;
    }
    if (arg == "--version") {
      std::cout << "qodo2api " << QODO2API_VERSION << "\n";
      return 0;
    }
    std::cerr << "qodo2api: unknown argument '" << arg << "' (see --help)\n";
    return 2;
  }

  auto loaded = config::load(config::processEnvWithDotenv(readFile(".env")),
                             static_cast<int>(std::thread::hardware_concurrency()));
  if (!loaded.config) {
    std::cerr << "qodo2api: configuration error: " << loaded.error << "\n";
    return 2;
  }
  const config::Config cfg = std::move(*loaded.config);

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    obs::initLogging({cfg.dataDir + "/logs", cfg.debug});
  } catch (const std::exception& e) {
    std::cerr << "qodo2api: " << e.what() << "\n";
    return 2;
  }

  obs::Metrics metrics(static_cast<size_t>(cfg.workers) + 1);
  describeMetrics(metrics);
  http::RateLimiter rateLimiter(cfg.requestRateLimit, std::chrono::steady_clock::now());
  http::IpBlockList blockList(cfg.ipBlackList);
  http::ApiKeyAuth apiAuth(cfg.apiSecrets);

  http::GatewayServices services;
  services.config = &cfg;
  services.metrics = &metrics;
  services.rateLimiter = &rateLimiter;
  services.blockList = &blockList;
  services.apiAuth = &apiAuth;
  services.modelsCreated = static_cast<long>(std::time(nullptr));
  services.ready = [] { return false; };
  services.readyInfo = [] { return std::string(R"("usable_accounts":0)"); };

  http::ServerLimits limits;
  limits.maxBodyBytes = cfg.maxBodyBytes;
  limits.headerTimeout = std::chrono::seconds(cfg.headerTimeoutSeconds);
  limits.keepAliveTimeout = std::chrono::seconds(cfg.keepAliveTimeoutSeconds);

  http::Server server(cfg.port, static_cast<size_t>(cfg.workers), limits, metrics,
                      [&](size_t, boost::asio::io_context&) -> std::unique_ptr<http::Handler> {
                        return std::make_unique<http::Gateway>(services, http::GatewayRoutes{});
                      });
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    obs::flushLogging();
    std::cerr << "qodo2api: " << e.what() << "\n";
    return 1;
  }
  spdlog::info("qodo2api {} listening on port {} with {} workers{}", QODO2API_VERSION,
               server.port(), cfg.workers,
               cfg.routePrefix.empty() ? "" : " under prefix " + cfg.routePrefix);
  obs::flushLogging();

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping, in-flight requests have {} s", sig, cfg.shutdownGraceSeconds);
  server.stop(std::chrono::seconds(cfg.shutdownGraceSeconds));
  spdlog::info("stopped");
  obs::flushLogging();
  spdlog::shutdown();
  return 0;
}
