#include "http/admin.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "accounts/pool.h"
#include "api/models.h"
#include "http/respond.h"
#include "obs/secrets.h"
#include "relay/account_check.h"

namespace http {
namespace {

boost::json::value optionalInt(const std::optional<int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

api::ApiError adminError(int status, std::string message, std::string code) {
  return {status, std::move(message), "invalid_request_error", std::nullopt, std::move(code)};
}

boost::json::object viewJson(const accounts::AccountView& a) {
  boost::json::object o;
  o["id"] = a.id;
  o["key"] = a.key;
  o["state"] = a.state;
  o["cooldown_until"] = optionalInt(a.cooldownUntil);
  o["last_error"] =
      a.lastError.empty() ? boost::json::value(nullptr) : boost::json::value(a.lastError);
  o["requests"] = a.requests;
  o["failures"] = a.failures;
  o["last_used"] = optionalInt(a.lastUsed);
  o["kind"] = config::kindName(a.kind);
  if (a.lastCheck)
    o["last_check"] = boost::json::object{{"at", a.lastCheck->at},
                                          {"ok", a.lastCheck->ok},
                                          {"latency_ms", a.lastCheck->latencyMs},
                                          {"model", a.lastCheck->model}};
  else
    o["last_check"] = nullptr;
  boost::json::array models;
  if (a.kind == config::AccountKind::kChats)
    for (const auto& m : api::models()) models.emplace_back(m.id);  // the seed table
  else
    for (const auto& m : a.models) models.emplace_back(m);
  o["models"] = std::move(models);
  if (a.kind == config::AccountKind::kCommand) {
    o["quota"] = boost::json::object{{"remaining", optionalInt(a.quota.remaining)},
                                     {"limit", optionalInt(a.quota.limit)},
                                     {"reset_at", optionalInt(a.quota.resetAt)}};
  } else {
    o["quota"] = nullptr;
  }
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "apiKey=refreshToken" → a chats account. Empty spec when it is not that shape.
config::AccountSpec cookieSpec(std::string_view text) {
  config::AccountSpec spec;
  const auto eq = text.find('=');
  if (eq != std::string_view::npos) {
    spec.apiKey = trim(text.substr(0, eq));
    spec.refreshToken = trim(text.substr(eq + 1));
  }
  if (spec.apiKey.empty() || spec.refreshToken.empty()) return {};
  return spec;
}

config::AccountSpec keySpec(std::string_view text) {
  config::AccountSpec spec;
  spec.refreshToken = trim(text);
  spec.kind = config::AccountKind::kCommand;
  return spec;
}

// One entry of a bulk import: a string with '=' between two non-empty parts is a chats cookie,
// any other string a Qodo API key; {"cookie"} and {"api_key"} say which explicitly.
std::optional<config::AccountSpec> entrySpec(const boost::json::value& entry) {
  if (const auto* text = entry.if_string()) {
    if (auto spec = cookieSpec(*text); !spec.refreshToken.empty()) return spec;
    auto spec = keySpec(*text);
    if (spec.refreshToken.empty()) return std::nullopt;
    return spec;
  }
  if (const auto* object = entry.if_object()) {
    if (const auto* c = object->if_contains("cookie"); c && c->is_string()) {
      auto spec = cookieSpec(c->get_string());
      if (!spec.refreshToken.empty()) return spec;
    }
    if (const auto* k = object->if_contains("api_key"); k && k->is_string()) {
      auto spec = keySpec(k->get_string());
      if (!spec.refreshToken.empty()) return spec;
    }
  }
  return std::nullopt;
}

// What one addition ended as, as the admin sees it: a status and an error (no secrets).
struct AddOutcome {
  int status = 201;
  std::optional<int64_t> id;
  api::ApiError error;
};

AddOutcome outcomeOf(const accounts::AddResult& result, config::AccountKind kind) {
  using accounts::AddError;
  const bool command = kind == config::AccountKind::kCommand;
  auto make = [](api::ApiError e) { return AddOutcome{e.status, std::nullopt, std::move(e)}; };
  switch (result.error) {
    case AddError::kNone:
      return {201, result.id, {}};
    case AddError::kInvalidToken:
      return make(adminError(
          400,
          std::string(command ? "The Qodo API key was refused: " : "The refresh token was rejected: ") +
              result.message,
          command ? "invalid_api_key" : "invalid_refresh_token"));
    case AddError::kDuplicate:
      return make(adminError(409, "That account is already in the pool.", "duplicate_account"));
    case AddError::kExchangeFailed:
      return make(api::badGateway(
          std::string(command ? "get-things failed: " : "The token exchange failed: ") +
          result.message));
    case AddError::kStorage:
      return make(api::internalError("The account could not be stored: " + result.message));
    case AddError::kUnavailable:
      return make(api::noAccount("Accounts cannot be added right now: " + result.message));
  }
  return make(api::internalError("unknown result"));
}

}  // namespace

void AdminApi::list(const std::shared_ptr<Exchange>& exchange) {
  boost::json::array data;
  for (const auto& view : pool_.list(accounts::Clock::now())) data.push_back(viewJson(view));
  boost::json::object body;
  body["object"] = "list";
  body["data"] = std::move(data);
  respondJson(*exchange, 200, boost::json::serialize(body));
}

void AdminApi::add(const std::shared_ptr<Exchange>& exchange) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(exchange->request().body, ec);
  const boost::json::object* object = !ec ? body.if_object() : nullptr;
  if (object != nullptr) {
    if (const auto* list = object->if_contains("accounts"); list && list->is_array())
      return addMany(exchange, list->get_array());
  }
  const boost::json::string* cookie = nullptr;
  const boost::json::string* apiKey = nullptr;
  if (object != nullptr) {
    if (auto* v = object->if_contains("cookie")) cookie = v->if_string();
    if (auto* v = object->if_contains("api_key")) apiKey = v->if_string();
  }
  if (!cookie && !apiKey)
    return respondError(*exchange,
                        adminError(400,
                                   R"(The body must be {"cookie":"apiKey=refreshToken"}, )"
                                   R"({"api_key":"<Qodo API key>"} or {"accounts":[…]}.)",
                                   "invalid_body"));
  config::AccountSpec spec = cookie ? cookieSpec(*cookie) : keySpec(*apiKey);
  if (spec.refreshToken.empty())
    return respondError(*exchange,
                        cookie ? adminError(400, "The cookie must be apiKey=refreshToken.",
                                            "invalid_cookie")
                               : adminError(400, "The api_key is empty.", "invalid_api_key"));

  const std::string masked = obs::maskSecret(spec.refreshToken);
  const auto kind = spec.kind;
  auto& io = io_;
  pool_.add(std::move(spec), [exchange, &io, masked, kind](accounts::AddResult result) {
    boost::asio::post(io, [exchange, masked, kind, result = std::move(result)] {
      const AddOutcome outcome = outcomeOf(result, kind);
      if (outcome.status != 201) return respondError(*exchange, outcome.error);
      spdlog::info("admin: {} account {} added as id {}", config::kindName(kind), masked,
                   *outcome.id);
      boost::json::object o{{"id", *outcome.id},
                            {"object", "account"},
                            {"key", masked},
                            {"kind", config::kindName(kind)}};
      exchange->respond(201, "application/json", boost::json::serialize(o));
    });
  });
}

void AdminApi::addMany(const std::shared_ptr<Exchange>& exchange,
                       const boost::json::array& entries) {
  constexpr size_t kMaxEntries = 1000;
  if (entries.empty() || entries.size() > kMaxEntries)
    return respondError(*exchange,
                        adminError(400,
                                   "'accounts' must hold between 1 and " +
                                       std::to_string(kMaxEntries) + " entries.",
                                   "invalid_body"));
  // Every entry's result, filled as the additions complete (all on this worker's thread).
  struct Batch {
    std::vector<boost::json::object> results;
    size_t pending = 0;
  };
  auto batch = std::make_shared<Batch>();
  batch->results.resize(entries.size());
  std::vector<std::pair<size_t, config::AccountSpec>> specs;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto spec = entrySpec(entries[i]);
    if (!spec) {
      batch->results[i] = {{"index", i},
                           {"status", 400},
                           {"error", "not apiKey=refreshToken, a Qodo API key, "
                                     R"({"cookie":…} or {"api_key":…})"}};
      continue;
    }
    batch->results[i] = {{"index", i},
                         {"kind", config::kindName(spec->kind)},
                         {"key", obs::maskSecret(spec->refreshToken)}};
    specs.emplace_back(i, std::move(*spec));
  }
  auto finish = [exchange, batch] {
    boost::json::array data;
    size_t added = 0;
    for (auto& r : batch->results) {
      if (r.at("status").as_int64() == 201) ++added;
      data.push_back(std::move(r));
    }
    spdlog::info("admin: bulk import added {} of {} accounts", added, data.size());
    boost::json::object body{{"object", "list"}, {"added", added}, {"data", std::move(data)}};
    exchange->respond(207, "application/json", boost::json::serialize(body));
  };
  batch->pending = specs.size();
  if (specs.empty()) return finish();
  auto& io = io_;
  for (auto& [index, spec] : specs) {
    const auto kind = spec.kind;
    pool_.add(std::move(spec), [batch, index, kind, &io, finish](accounts::AddResult result) {
      boost::asio::post(io, [batch, index, kind, finish, result = std::move(result)] {
        const AddOutcome outcome = outcomeOf(result, kind);
        auto& r = batch->results[index];
        r["status"] = outcome.status;
        if (outcome.id) r["id"] = *outcome.id;
        if (outcome.status != 201) r["error"] = outcome.error.message;
        if (--batch->pending == 0) finish();
      });
    });
  }
}

void AdminApi::remove(const std::shared_ptr<Exchange>& exchange, int64_t id) {
  if (!pool_.remove(id))
    return respondError(*exchange, adminError(404, "No account with id " + std::to_string(id) + ".",
                                              "account_not_found"));
  spdlog::info("admin: account {} deleted", id);
  exchange->respond(204, "application/json", "");
}

void AdminApi::disable(const std::shared_ptr<Exchange>& exchange, int64_t id) {
  if (!pool_.disable(id))
    return respondError(*exchange, adminError(404, "No account with id " + std::to_string(id) + ".",
                                              "account_not_found"));
  spdlog::info("admin: account {} disabled", id);
  for (const auto& view : pool_.list(accounts::Clock::now()))
    if (view.id == id) return respondJson(*exchange, 200, boost::json::serialize(viewJson(view)));
  exchange->respond(204, "application/json", "");
}

void AdminApi::test(const std::shared_ptr<Exchange>& exchange, int64_t id) {
  if (!pool_.find(id))
    return respondError(*exchange, adminError(404, "No account with id " + std::to_string(id) + ".",
                                              "account_not_found"));
  relay::checkAccount(relay_, pool_, id, [exchange, id](accounts::CheckResult r) {
    spdlog::info("admin: account {} tested: {} in {} ms", id, r.ok ? "ok" : "failed", r.latencyMs);
    boost::json::object o{{"ok", r.ok}, {"latency_ms", r.latencyMs}, {"model", r.model}};
    o[r.ok ? "answer" : "error"] = r.detail;
    respondJson(*exchange, 200, boost::json::serialize(o));
  });
}

void AdminApi::enable(const std::shared_ptr<Exchange>& exchange, int64_t id) {
  const auto now = accounts::Clock::now();
  if (!pool_.enable(id, now))
    return respondError(*exchange, adminError(404, "No account with id " + std::to_string(id) + ".",
                                              "account_not_found"));
  spdlog::info("admin: account {} enabled", id);
  for (const auto& view : pool_.list(now))
    if (view.id == id) return respondJson(*exchange, 200, boost::json::serialize(viewJson(view)));
  exchange->respond(204, "application/json", "");
}

}  // namespace http
