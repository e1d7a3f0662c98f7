#include "http/admin.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "accounts/pool.h"
#include "http/respond.h"
#include "obs/secrets.h"

namespace http {
namespace {

boost::json::value optionalInt(const std::optional<int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
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
  return o;
}

api::ApiError adminError(int status, std::string message, std::string code) {
  return {status, std::move(message), "invalid_request_error", std::nullopt, std::move(code)};
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
  const boost::json::string* cookie = nullptr;
  if (!ec && body.is_object()) {
    if (auto* v = body.as_object().if_contains("cookie")) cookie = v->if_string();
  }
  if (!cookie)
    return respondError(
        *exchange,
        adminError(400, R"(The body must be {"cookie":"apiKey=refreshToken"}.)", "invalid_body"));
  std::string_view text(*cookie);
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  const auto eq = text.find('=');
  config::AccountSpec spec;
  if (eq != std::string_view::npos) {
    spec.apiKey = trim(text.substr(0, eq));
    spec.refreshToken = trim(text.substr(eq + 1));
  }
  if (spec.apiKey.empty() || spec.refreshToken.empty())
    return respondError(
        *exchange, adminError(400, "The cookie must be apiKey=refreshToken.", "invalid_cookie"));

  const std::string masked = obs::maskSecret(spec.refreshToken);
  auto& io = io_;
  pool_.add(std::move(spec), [exchange, &io, masked](accounts::AddResult result) {
    boost::asio::post(io, [exchange, masked, result = std::move(result)] {
      using accounts::AddError;
      switch (result.error) {
        case AddError::kNone: {
          spdlog::info("admin: account {} added as id {}", masked, *result.id);
          boost::json::object o{{"id", *result.id}, {"object", "account"}, {"key", masked}};
          exchange->respond(201, "application/json", boost::json::serialize(o));
          return;
        }
        case AddError::kInvalidToken:
          return respondError(*exchange,
                              adminError(400, "The refresh token was rejected: " + result.message,
                                         "invalid_refresh_token"));
        case AddError::kDuplicate:
          return respondError(*exchange, adminError(409, "That account is already in the pool.",
                                                    "duplicate_account"));
        case AddError::kExchangeFailed:
          return respondError(*exchange,
                              api::badGateway("The token exchange failed: " + result.message));
        case AddError::kStorage:
          return respondError(
              *exchange, api::internalError("The account could not be stored: " + result.message));
        case AddError::kUnavailable:
          return respondError(*exchange, api::noAccount("Accounts cannot be added right now."));
      }
    });
  });
}

void AdminApi::remove(const std::shared_ptr<Exchange>& exchange, int64_t id) {
  if (!pool_.remove(id))
    return respondError(*exchange, adminError(404, "No account with id " + std::to_string(id) + ".",
                                              "account_not_found"));
  spdlog::info("admin: account {} deleted", id);
  exchange->respond(204, "application/json", "");
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
