// Wiring only: configuration → logging → metrics → guards → server; signals and graceful stop.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "accounts/merge.h"
#include "accounts/metrics.h"
#include "accounts/persister.h"
#include "accounts/pool.h"
#include "accounts/refresher.h"
#include "accounts/things.h"
#include "app/doctor.h"
#include "config/config.h"
#include "fleet/fleet_sync.h"
#include "fleet/rate_limit.h"
#include "fleet/usage_store.h"
#include "http/admin.h"
#include "http/exchange_sink.h"
#include "http/gateway.h"
#include "http/guards.h"
#include "http/server.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "relay/account_check.h"
#include "relay/chat_relay.h"
#include "relay/token_cache.h"
#include "store/account_store.h"
#include "store/usage_store.h"
#include "tokenizer/tokenizer.h"
#include "upstream/client.h"
#include "upstream/ws_client.h"

namespace {

upstream::Options upstreamOptions(const config::Config& cfg) {
  upstream::Options o;
  o.proxyUrl = cfg.proxyUrl;
  o.connectTimeout = std::chrono::seconds(cfg.upstreamConnectTimeoutSeconds);
  o.firstByteTimeout = std::chrono::seconds(cfg.upstreamFirstByteTimeoutSeconds);
  o.idleTimeout = std::chrono::seconds(cfg.upstreamIdleTimeoutSeconds);
  return o;
}

upstream::WsOptions wsOptions(const config::Config& cfg) {
  upstream::WsOptions o;
  o.connectTimeout = std::chrono::seconds(cfg.upstreamConnectTimeoutSeconds);
  o.firstByteTimeout = std::chrono::seconds(cfg.upstreamFirstByteTimeoutSeconds);
  o.idleTimeout = std::chrono::seconds(cfg.upstreamIdleTimeoutSeconds);
  o.proxyUrl = cfg.proxyUrl;
  return o;
}

// Saves the usage rows that changed, every `interval` on the control thread and once at the
// end; a failed save is retried with the next. With a fleet, the fleet's totals are read back
// after each save (every day's once a minute, the last two days' otherwise).
class UsageSaver {
 public:
  UsageSaver(boost::asio::io_context& control, obs::UsageLedger& ledger, store::UsageStore& store,
             std::chrono::seconds interval, fleet::RedisUsageStore* shared)
      : timer_(control), ledger_(ledger), store_(store), interval_(interval), shared_(shared) {}

  void start() {
    if (shared_ != nullptr) shared_->pull(true);
    schedule();
  }

  // `done` runs once the rows taken now are saved (or failed).
  void save(std::function<void()> done = {}) {
    for (auto& row : ledger_.takeChanged()) {
      auto key = std::make_tuple(row.day, row.key, row.model);
      pending_[std::move(key)] = std::move(row);  // totals: the latest wins
    }
    if (saving_ || pending_.empty()) {
      if (done) done();
      return;
    }
    saving_ = true;
    std::vector<obs::UsageRow> rows;
    for (auto& [key, row] : pending_) rows.push_back(row);
    pending_.clear();
    store_.save(rows, [this, rows, done = std::move(done)](store::Status status) {
      saving_ = false;
      if (!status.ok()) {
        if (!failing_) spdlog::error("{}", status.message());
        failing_ = true;
        for (auto& row : rows)
          pending_.try_emplace(std::make_tuple(row.day, row.key, row.model), row);
      } else {
        failing_ = false;
      }
      if (shared_ != nullptr) shared_->pull(++saves_ % 60 == 0);
      if (done) done();
    });
  }

 private:
  void schedule() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      save();
      if (shared_ != nullptr && !saving_) shared_->pull(false);
      schedule();
    });
  }

  boost::asio::steady_timer timer_;
  obs::UsageLedger& ledger_;
  store::UsageStore& store_;
  const std::chrono::seconds interval_;
  fleet::RedisUsageStore* shared_;
  std::map<std::tuple<std::string, std::string, std::string>, obs::UsageRow> pending_;
  bool saving_ = false;
  bool failing_ = false;
  uint64_t saves_ = 0;
};

relay::RelayOptions relayOptions(const config::Config& cfg, relay::ParkedDirectory* directory) {
  relay::RelayOptions options;
  options.chatUrl = cfg.qodoApiBase + "/v2/chats/chat";
  options.commandUrl = cfg.qodoCommandUrl;
  options.chineseChatEnabled = cfg.chineseChatEnabled;
  options.reasoningHide = cfg.reasoningHide;
  options.recordDir = cfg.recordDir;
  options.aliases = cfg.modelAliases;
  options.directory = directory;
  return options;
}

// Everything one worker owns: its backend client, its chat relay, the admin API and the
// gateway that routes to them.
class WorkerHandler final : public http::Handler {
 public:
  WorkerHandler(size_t worker, boost::asio::io_context& io, const config::Config& cfg,
                const http::GatewayServices& services, accounts::AccountPool& pool,
                obs::MetricsShard& shard, std::atomic<int64_t>& activeStreams,
                relay::ParkedDirectory& directory)
      : io_(io),
        client_(io, upstreamOptions(cfg)),
        ws_(io, wsOptions(cfg)),
        relay_(io, client_, ws_, pool, relayOptions(cfg, &directory), shard, activeStreams),
        admin_(io, pool, relay_),
        gateway_(services, routes()) {
    // The background checks run on the first worker, one at a time.
    if (worker == 0 && cfg.accountCheckIntervalSeconds > 0) {
      checker_ = std::make_unique<relay::AccountChecker>(
          io, relay_, pool, std::chrono::seconds(cfg.accountCheckIntervalSeconds));
      checker_->start();
    }
  }

  void handle(const std::shared_ptr<http::Exchange>& exchange) override {
    gateway_.handle(exchange);
  }

 private:
  http::GatewayRoutes routes() {
    http::GatewayRoutes r;
    r.chat = [this](const std::shared_ptr<http::Exchange>& ex) {
      relay_.handle(ex->request().body, std::make_shared<http::ExchangeSink>(ex));
    };
    r.messages = [this](const std::shared_ptr<http::Exchange>& ex) {
      relay_.handle(ex->request().body, std::make_shared<http::ExchangeSink>(ex, true),
                    std::nullopt, api::Surface::kAnthropic);
    };
    r.countTokens = [this](const std::shared_ptr<http::Exchange>& ex) {
      http::ExchangeSink sink(ex, true);
      relay_.countTokens(ex->request().body, sink);
    };
    r.adminList = [this](const auto& ex) { admin_.list(ex); };
    r.adminAdd = [this](const auto& ex) { admin_.add(ex); };
    r.adminDelete = [this](const auto& ex, int64_t id) { admin_.remove(ex, id); };
    r.adminEnable = [this](const auto& ex, int64_t id) { admin_.enable(ex, id); };
    r.adminDisable = [this](const auto& ex, int64_t id) { admin_.disable(ex, id); };
    r.adminTest = [this](const auto& ex, int64_t id) { admin_.test(ex, id); };
    r.post = [&io = io_](std::function<void()> f) { boost::asio::post(io, std::move(f)); };
    return r;
  }

  boost::asio::io_context& io_;
  upstream::Client client_;
  upstream::WsClient ws_;
  relay::ChatRelay relay_;
  http::AdminApi admin_;
  http::Gateway gateway_;
  std::unique_ptr<relay::AccountChecker> checker_;  // ACCOUNT_CHECK_INTERVAL_SECONDS
};

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
  metrics.describe("qodo2api_upstream_attempts_total", "counter", "Backend chat calls by outcome");
  metrics.describe("qodo2api_tokens_total", "counter", "Tokens counted, by direction (in, out)");
  metrics.describe("qodo2api_tool_sessions_total", "counter",
                   "Command sessions kept for their tool calls' results (parked) and answered "
                   "on (continued)");
  // qodo2api_accounts* and qodo2api_token_refreshes_total are written whole, HELP and TYPE
  // included, by the accounts room's collector (accounts/metrics.cpp).
}

}  // namespace

int main(int argc, char** argv) {
  bool doctor = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "doctor") {
      doctor = true;
      continue;
    }
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
  if (doctor) {
    // Quiet: the lines it prints are the output; warnings would repeat them.
    spdlog::set_level(cfg.debug ? spdlog::level::debug : spdlog::level::off);
    return app::runDoctor(cfg, std::cout);
  }

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
  tokenizer::warmUp();

  // The control thread: token exchanges, persistence, admin additions.
  boost::asio::io_context control;
  upstream::Client controlClient(control, upstreamOptions(cfg));
  std::unique_ptr<store::AccountStore> store;
  if (auto status = store::AccountStore::open({cfg.dataDir}, &store); !status.ok()) {
    // One line, on stderr like a configuration error (the console log would repeat it).
    obs::flushLogging();
    std::cerr << "qodo2api: " << status.message() << "\n";
    return 1;
  }
  // Usage totals survive restarts in the same file (what changed is saved every 10 s), or live
  // in Redis with a fleet (saved every second).
  std::unique_ptr<store::SqliteUsageStore> usageStore;
  if (!cfg.redis) {
    std::vector<obs::UsageRow> rows;
    auto status = store::SqliteUsageStore::open(store->handle(), &usageStore);
    if (status.ok()) status = usageStore->load(&rows);
    if (!status.ok()) {
      obs::flushLogging();
      std::cerr << "qodo2api: " << status.message() << "\n";
      return 1;
    }
    metrics.usage().load(rows);
  }
  accounts::AccountPool pool(
      {cfg.accountStrategy, std::chrono::seconds(cfg.rateLimitCookieLockDuration)});
  // The persister and the refresher attach themselves to the pool as its observer and control.
  accounts::Persister persister(control, pool, store.get());
  if (auto error = accounts::loadAccounts(store.get(), cfg.accounts, pool, accounts::Clock::now());
      !error.empty()) {
    // One line, on stderr like a configuration error (the console log would repeat it).
    obs::flushLogging();
    std::cerr << "qodo2api: " << error << "\n";
    return 1;
  }
  accounts::TokenRefresher refresher(
      control, pool, persister,
      accounts::byKind(accounts::firebaseExchanger(controlClient, cfg.firebaseTokenUrl),
                       accounts::thingsExchanger(controlClient, cfg.qodoCommandUrl)));
  accounts::registerMetrics(metrics, pool, refresher);

  // REDIS_URL: the fleet (docs/fleet.md). Its sync sits between the pool and the persister.
  std::unique_ptr<fleet::FleetSync> fleetSync;
  std::unique_ptr<fleet::FleetRateLimit> fleetRateLimit;
  std::unique_ptr<fleet::RedisUsageStore> fleetUsage;
  if (cfg.redis) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::string instance = std::string(host) + "-" + std::to_string(getpid());
    for (char& ch : instance)
      if (ch == ' ' || ch == ':') ch = '_';
    fleetSync = std::make_unique<fleet::FleetSync>(
        control, pool, persister, fleet::FleetOptions{*cfg.redis, std::move(instance)});
    refresher.setFleet(fleetSync.get());
    if (cfg.requestRateLimit > 0)
      fleetRateLimit =
          std::make_unique<fleet::FleetRateLimit>(control, *fleetSync, cfg.requestRateLimit);
    fleetUsage = std::make_unique<fleet::RedisUsageStore>(*fleetSync, metrics.usage());
    metrics.addCollector([&fleet = *fleetSync, limit = fleetRateLimit.get()](std::string& out) {
      out +=
          "# HELP qodo2api_redis_up Whether this instance is in step with the fleet's Redis\n"
          "# TYPE qodo2api_redis_up gauge\n";
      out += std::string("qodo2api_redis_up ") + (fleet.up() ? "1" : "0") + "\n";
      out +=
          "# HELP qodo2api_redis_outages_total Times Redis became unreachable\n"
          "# TYPE qodo2api_redis_outages_total counter\n";
      out += "qodo2api_redis_outages_total " + std::to_string(fleet.outages()) + "\n";
      out +=
          "# HELP qodo2api_redis_commands_total Commands sent to Redis\n"
          "# TYPE qodo2api_redis_commands_total counter\n";
      out += "qodo2api_redis_commands_total " + std::to_string(fleet.redis().commandsSent()) + "\n";
      if (limit != nullptr) {
        out +=
            "# HELP qodo2api_fleet_rate_checks_total Rate-limit checks asked of Redis\n"
            "# TYPE qodo2api_fleet_rate_checks_total counter\n";
        out += "qodo2api_fleet_rate_checks_total " + std::to_string(limit->checks()) + "\n";
      }
    });
  }
  store::UsageStore& usageTarget = fleetUsage ? static_cast<store::UsageStore&>(*fleetUsage)
                                              : static_cast<store::UsageStore&>(*usageStore);
  UsageSaver usageSaver(control, metrics.usage(), usageTarget,
                        std::chrono::seconds(fleetUsage ? 1 : 10), fleetUsage.get());
  metrics.addCollector([](std::string& out) {
    const auto& cache = relay::TokenCountCache::shared();
    out += "# HELP qodo2api_token_cache_total Prompt messages counted from the token-count cache "
           "(hit) or by the tokenizer (miss)\n# TYPE qodo2api_token_cache_total counter\n";
    out += "qodo2api_token_cache_total{result=\"hit\"} " + std::to_string(cache.hits()) + "\n";
    out += "qodo2api_token_cache_total{result=\"miss\"} " + std::to_string(cache.misses()) + "\n";
    out += "# HELP qodo2api_token_cache_entries Messages whose token count is kept\n"
           "# TYPE qodo2api_token_cache_entries gauge\n";
    out += "qodo2api_token_cache_entries " + std::to_string(cache.entries()) + "\n";
  });
  std::thread controlThread([&control] {
    auto guard = boost::asio::make_work_guard(control);
    control.run();
  });
  if (fleetSync) {
    // The fleet's accounts (and their ids) before the first exchange: at most 3 s, then with
    // this instance's copy.
    boost::asio::post(control, [&] {
      fleetSync->start([&refresher](int64_t id) { refresher.exchangeSoon(id); });
    });
    if (!fleetSync->waitForFirstSync(std::chrono::steady_clock::now() + std::chrono::seconds(3)))
      fleetSync->reportUnreachableAtStart();
  }
  refresher.start();
  boost::asio::post(control, [&usageSaver] { usageSaver.start(); });
  // Give the first exchanges and get-things a moment so the first requests find usable
  // accounts: until all answered, at most 5 s while none is usable, and at most 300 ms more once
  // one is — a slow account delays listening by little, a dead backend by at most 5 s, and
  // never a request.
  {
    using Steady = std::chrono::steady_clock;
    const auto deadline = Steady::now() + std::chrono::seconds(5);
    std::optional<Steady::time_point> firstUsable;
    bool all = false;
    while (!(all = refresher.waitForInitial(std::min(deadline, Steady::now() +
                                                                   std::chrono::milliseconds(20))))) {
      const auto now = Steady::now();
      if (now >= deadline) break;
      if (!firstUsable && pool.counts(accounts::Clock::now()).usable > 0) firstUsable = now;
      if (firstUsable && now - *firstUsable >= std::chrono::milliseconds(300)) break;
    }
    if (!all)
      spdlog::warn(
          "token exchanges or get-things still running; serving with the accounts that are "
          "ready");
  }
  http::RateLimiter rateLimiter(cfg.requestRateLimit, std::chrono::steady_clock::now());
  http::IpBlockList blockList(cfg.ipBlackList);
  http::ApiKeyAuth apiAuth(cfg.apiSecrets, cfg.apiKeyNames);

  http::GatewayServices services;
  services.config = &cfg;
  services.metrics = &metrics;
  services.rateLimiter = &rateLimiter;
  services.sharedRateLimit = fleetRateLimit.get();
  services.blockList = &blockList;
  services.apiAuth = &apiAuth;
  services.modelsCreated = static_cast<long>(std::time(nullptr));
  services.liveModels = [&pool] { return pool.liveModels(); };
  services.ready = [&pool] { return pool.counts(accounts::Clock::now()).usable > 0; };
  services.readyInfo = [&pool, &fleetSync] {
    const auto c = pool.counts(accounts::Clock::now());
    return "\"accounts\":{\"usable\":" + std::to_string(c.usable) +
           ",\"active\":" + std::to_string(c.active) + ",\"cooling\":" + std::to_string(c.cooling) +
           ",\"exhausted\":" + std::to_string(c.exhausted) +
           ",\"invalid\":" + std::to_string(c.invalid) +
           ",\"disabled\":" + std::to_string(c.disabled) + "}" +
           (fleetSync
                ? std::string(",\"fleet\":{\"redis\":\"") + (fleetSync->up() ? "up" : "down") +
                      "\",\"instance\":\"" + fleetSync->instance() + "\"}"
                : std::string());
  };

  // Command sessions parked for their tool calls' results, whichever worker holds them.
  relay::ParkedDirectory parkedDirectory;

  http::ServerLimits limits;
  limits.maxBodyBytes = cfg.maxBodyBytes;
  limits.headerTimeout = std::chrono::seconds(cfg.headerTimeoutSeconds);
  limits.keepAliveTimeout = std::chrono::seconds(cfg.keepAliveTimeoutSeconds);

  http::Server server(
      cfg.host, cfg.port, static_cast<size_t>(cfg.workers), limits, metrics,
      [&](size_t worker, boost::asio::io_context& io) -> std::unique_ptr<http::Handler> {
        return std::make_unique<WorkerHandler>(worker, io, cfg, services, pool,
                                               metrics.shard(worker), metrics.activeStreams(),
                                               parkedDirectory);
      });
  try {
    server.start();
  } catch (const std::exception& e) {
    // One line, on stderr like a configuration error (the console log would repeat it).
    obs::flushLogging();
    std::cerr << "qodo2api: " << e.what() << "\n";
    control.stop();
    controlThread.join();
    return 1;
  }
  spdlog::info("qodo2api {} listening on port {}{} with {} workers{}", QODO2API_VERSION,
               server.port(), cfg.host.empty() ? "" : " at " + cfg.host, cfg.workers,
               cfg.routePrefix.empty() ? "" : " under prefix " + cfg.routePrefix);
  obs::flushLogging();

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping, in-flight requests have {} s", sig, cfg.shutdownGraceSeconds);
  server.stop(std::chrono::seconds(cfg.shutdownGraceSeconds));
  // Last writes of the pool's state, on the control thread, then stop it.
  std::promise<void> flushed;
  boost::asio::post(control, [&] {
    if (auto status = persister.flush(); !status.ok()) spdlog::error("{}", status.message());
    usageSaver.save([&flushed] { flushed.set_value(); });
  });
  flushed.get_future().wait_for(std::chrono::seconds(10));
  control.stop();
  controlThread.join();
  spdlog::info("stopped");
  obs::flushLogging();
  spdlog::shutdown();
  return 0;
}
