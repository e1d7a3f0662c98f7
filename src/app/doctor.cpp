#include "app/doctor.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "accounts/merge.h"
#include "accounts/persister.h"
#include "accounts/pool.h"
#include "accounts/refresher.h"
#include "accounts/things.h"
#include "obs/metrics.h"
#include "obs/secrets.h"
#include "relay/account_check.h"
#include "relay/chat_relay.h"
#include "store/account_store.h"
#include "upstream/client.h"
#include "upstream/ws_client.h"

namespace app {
namespace {

using Clock = std::chrono::steady_clock;

std::string quotaText(const accounts::Quota& quota) {
  if (!quota.remaining && !quota.limit) return "";
  return ", quota " + (quota.remaining ? std::to_string(*quota.remaining) : "?") + "/" +
         (quota.limit ? std::to_string(*quota.limit) : "?");
}

// What to do about a failure, in plain words, after what went wrong.
std::string advice(const accounts::Account& account) {
  const bool command = account.kind == accounts::AccountKind::kCommand;
  switch (account.status.state) {
    case accounts::State::kInvalid:
      return command ? " (make a new key: `qodo login`, or Qodo's key management)"
                     : " (log in to Qodo again and take a new refresh token)";
    case accounts::State::kExhausted:
      return " (its usage limit is reached)";
    case accounts::State::kCooling:
      return " (it is resting after a rate limit or a used-up quota)";
    case accounts::State::kDisabled:
      return " (an admin disabled it)";
    default:
      return "";
  }
}

std::string oneLine(std::string text, size_t limit = 160) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > limit) text = text.substr(0, limit) + "…";
  return text;
}

}  // namespace

int runDoctor(const config::Config& cfg, std::ostream& out) {
  std::unique_ptr<store::AccountStore> store;
  if (auto status = store::AccountStore::open({cfg.dataDir}, &store); !status.ok()) {
    out << "note: " << status.message() << "; checking the configured accounts only\n";
    store.reset();
  }
  boost::asio::io_context control;
  boost::asio::io_context worker;
  upstream::Options http;
  http.proxyUrl = cfg.proxyUrl;
  http.connectTimeout = std::chrono::seconds(cfg.upstreamConnectTimeoutSeconds);
  http.firstByteTimeout = std::chrono::seconds(cfg.upstreamFirstByteTimeoutSeconds);
  http.idleTimeout = std::chrono::seconds(cfg.upstreamIdleTimeoutSeconds);
  upstream::Client controlClient(control, http);
  upstream::Client workerClient(worker, http);
  upstream::WsOptions ws;
  ws.connectTimeout = http.connectTimeout;
  ws.firstByteTimeout = http.firstByteTimeout;
  ws.idleTimeout = http.idleTimeout;
  ws.proxyUrl = cfg.proxyUrl;
  upstream::WsClient wsClient(worker, ws);

  // Transient failures are not retried here: the first answer is the verdict.
  accounts::RefresherOptions refresherOptions;
  refresherOptions.backoffBase = std::chrono::hours(1);
  accounts::AccountPool pool({config::AccountStrategy::kRandom,
                              std::chrono::seconds(cfg.rateLimitCookieLockDuration)});
  accounts::Persister persister(control, pool, store.get());
  if (auto error = accounts::loadAccounts(store.get(), cfg.accounts, pool,
                                          accounts::Clock::now());
      !error.empty()) {
    out << "error: " << error << "\n";
    return 1;
  }
  if (pool.ids().empty()) {
    out << "No account is configured: set QD_COOKIE (apiKey=refreshToken, chats backend) or "
           "QODO_API_KEYS (Qodo API keys, command backend).\n";
    return 1;
  }
  accounts::TokenRefresher refresher(
      control, pool, persister,
      accounts::byKind(accounts::firebaseExchanger(controlClient, cfg.firebaseTokenUrl),
                       accounts::thingsExchanger(controlClient, cfg.qodoCommandUrl)),
      refresherOptions);
  obs::Metrics metrics(1);
  relay::ChatRelay chatRelay(worker, workerClient, wsClient, pool,
                             relay::RelayOptions{cfg.qodoApiBase + "/v2/chats/chat",
                                                 cfg.qodoCommandUrl, cfg.chineseChatEnabled,
                                                 cfg.reasoningHide, cfg.recordDir},
                             metrics.shard(0), metrics.activeStreams());

  std::thread controlThread([&control] {
    auto guard = boost::asio::make_work_guard(control);
    control.run();
  });
  std::thread workerThread([&worker] {
    auto guard = boost::asio::make_work_guard(worker);
    worker.run();
  });

  const auto started = Clock::now();
  refresher.start();
  refresher.waitForInitial(started + http.connectTimeout + http.firstByteTimeout);
  const auto credentialsMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();

  int answered = 0;
  for (int64_t id : pool.ids()) {
    auto account = pool.find(id);
    if (!account) continue;
    const bool command = account->kind == accounts::AccountKind::kCommand;
    std::string line = "#" + std::to_string(id) + " " +
                       (command ? "command " : "chats   ") + obs::maskSecret(account->refreshToken) +
                       "  ";
    const bool credential = !account->accessToken.empty();
    if (!credential) {
      const std::string why = account->lastError.empty()
                                  ? (command ? "get-things did not answer" : "the token exchange did not answer")
                                  : account->lastError;
      out << line << "FAILED at " << (command ? "get-things" : "token exchange") << ": "
          << oneLine(why) << advice(*account) << " · " << credentialsMs << " ms\n";
      continue;
    }
    line += command ? "get-things ok (" + std::to_string(account->info.models.size()) + " models" +
                          quotaText(account->info.quota) + ")"
                    : std::string("token ok");
    std::promise<accounts::CheckResult> checked;
    auto result = checked.get_future();
    boost::asio::post(worker, [&chatRelay, &pool, &checked, id] {
      relay::checkAccount(chatRelay, pool, id,
                          [&checked](accounts::CheckResult r) { checked.set_value(std::move(r)); });
    });
    const accounts::CheckResult r = result.get();
    if (r.ok) {
      ++answered;
      out << line << " · answer ok from " << r.model << ": \"" << oneLine(r.detail, 60) << "\" · "
          << r.latencyMs << " ms\n";
    } else {
      auto now = pool.find(id);
      out << line << " · FAILED at the answer (" << r.model << "): " << oneLine(r.detail)
          << (now ? advice(*now) : "") << " · " << r.latencyMs << " ms\n";
    }
  }
  out << answered << " of " << pool.ids().size() << " accounts answered.\n";

  std::promise<void> flushed;
  boost::asio::post(control, [&] {
    persister.flush();
    flushed.set_value();
  });
  flushed.get_future().wait_for(std::chrono::seconds(10));
  worker.stop();
  control.stop();
  workerThread.join();
  controlThread.join();
  return answered > 0 ? 0 : 1;
}

}  // namespace app
