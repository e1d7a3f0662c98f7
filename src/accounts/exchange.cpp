#include "accounts/exchange.h"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <charconv>
#include <memory>

namespace accounts {
namespace {

constexpr size_t kMaxErrorLength = 200;
constexpr size_t kMaxBodyBytes = size_t{64} * 1024;

std::string formEncode(std::string_view value) {
  boost::urls::encoding_opts options;
  options.space_as_plus = true;
  return boost::urls::encode(value, boost::urls::unreserved_chars, options);
}

std::string stringField(const boost::json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) {
    return {};
  }
  if (const auto* s = value->if_string()) {
    return std::string(*s);
  }
  return {};
}

// Firebase sends "3600" (a string); a number is accepted too.
std::optional<int64_t> secondsField(const boost::json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (const auto* n = value->if_int64()) {
    return *n;
  }
  if (const auto* s = value->if_string()) {
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec == std::errc() && end == s->data() + s->size()) {
      return out;
    }
  }
  return std::nullopt;
}

std::string errorMessage(const boost::json::value* document, int status) {
  std::string message;
  if (document != nullptr && document->is_object()) {
    if (const auto* error = document->as_object().if_contains("error")) {
      if (const auto* object = error->if_object()) {
        message = stringField(*object, "message");
      } else if (const auto* text = error->if_string()) {
        message = std::string(*text);
      }
    }
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(status);
  }
  if (message.size() > kMaxErrorLength) {
    message.resize(kMaxErrorLength);
  }
  return message;
}

}  // namespace

upstream::Request buildExchangeRequest(std::string_view tokenUrl, const ExchangeRequest& request) {
  upstream::Request out;
  out.url = std::string(tokenUrl);
  out.url += tokenUrl.find('?') == std::string_view::npos ? "?key=" : "&key=";
  out.url += formEncode(request.apiKey);
  out.method = "POST";
  out.headers = {"Content-Type: application/x-www-form-urlencoded",
                 "X-Client-Version: Node/JsCore/10.5.2/FirebaseCore-web",
                 "Accept: application/json"};
  out.body = std::make_shared<const std::string>("grant_type=refresh_token&refresh_token=" +
                                                 formEncode(request.refreshToken));
  return out;
}

ExchangeResult parseExchangeResponse(int status, std::string_view body) {
  ExchangeResult result;
  boost::system::error_code ec;
  boost::json::value document = boost::json::parse(body, ec);
  const boost::json::value* parsed = ec ? nullptr : &document;

  if (status == 200) {
    if (parsed == nullptr || !parsed->is_object()) {
      result.error = "unreadable token answer";
      return result;
    }
    const auto& object = parsed->as_object();
    result.accessToken = stringField(object, "access_token");
    auto expiresIn = secondsField(object, "expires_in");
    if (result.accessToken.empty() || !expiresIn || *expiresIn <= 0) {
      result.accessToken.clear();
      result.error = "token answer without access_token or expires_in";
      return result;
    }
    result.status = ExchangeStatus::kOk;
    result.expiresIn = std::chrono::seconds(*expiresIn);
    result.refreshToken = stringField(object, "refresh_token");
    return result;
  }
  result.error = errorMessage(parsed, status);
  const bool transient = status == 0 || status == 408 || status == 429 || status >= 500;
  result.status = transient ? ExchangeStatus::kTransient : ExchangeStatus::kRejected;
  return result;
}

Exchanger byKind(Exchanger chats, Exchanger command) {
  return [chats = std::move(chats), command = std::move(command)](const ExchangeRequest& request,
                                                                  ExchangeDone done) {
    (request.kind == AccountKind::kCommand ? command : chats)(request, std::move(done));
  };
}

Exchanger firebaseExchanger(upstream::Client& client, std::string tokenUrl) {
  return
      [&client, tokenUrl = std::move(tokenUrl)](const ExchangeRequest& request, ExchangeDone done) {
        auto body = std::make_shared<std::string>();
        auto status = std::make_shared<int>(0);
        upstream::Handlers handlers;
        handlers.onStatus = [status](int s) { *status = s; };
        handlers.onData = [body](std::string_view bytes) {
          if (body->size() < kMaxBodyBytes) {
            body->append(bytes.substr(0, kMaxBodyBytes - body->size()));
          }
          return upstream::Flow::kContinue;
        };
        handlers.onDone = [body, status, done = std::move(done)](const upstream::Result& r) {
          if (r.error != upstream::ErrorKind::kNone) {
            ExchangeResult failed;
            failed.error = r.message.empty() ? std::string(upstream::describe(r.error)) : r.message;
            done(std::move(failed));
            return;
          }
          done(parseExchangeResponse(r.status != 0 ? r.status : *status, *body));
        };
        client.start(buildExchangeRequest(tokenUrl, request), std::move(handlers));
      };
}

}  // namespace accounts
