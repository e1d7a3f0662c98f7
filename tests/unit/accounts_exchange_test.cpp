// The Firebase token exchange: the request it sends and how each answer is classified.
#include <gtest/gtest.h>

#include <algorithm>

#include "accounts/exchange.h"

namespace accounts {
namespace {

TEST(TokenExchange, SendsTheFormEncodedRefreshTokenWithTheWebClientHeaders) {
  auto r = buildExchangeRequest("https://securetoken.googleapis.com/v1/token",
                                {"AIzaSy-key", "AMf/vB+x=y z"});
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://securetoken.googleapis.com/v1/token?key=AIzaSy-key");
  ASSERT_TRUE(r.body);
  EXPECT_EQ(*r.body, "grant_type=refresh_token&refresh_token=AMf%2FvB%2Bx%3Dy+z");
  auto has = [&](const char* h) {
    return std::find(r.headers.begin(), r.headers.end(), h) != r.headers.end();
  };
  EXPECT_TRUE(has("Content-Type: application/x-www-form-urlencoded"));
  EXPECT_TRUE(has("X-Client-Version: Node/JsCore/10.5.2/FirebaseCore-web"));
}

TEST(TokenExchange, AppendsTheKeyToAUrlThatAlreadyHasAQuery) {
  auto r = buildExchangeRequest("http://127.0.0.1:9/token?x=1", {"k", "t"});
  EXPECT_EQ(r.url, "http://127.0.0.1:9/token?x=1&key=k");
}

TEST(TokenExchange, ReadsAccessTokenLifetimeAndRotatedRefreshToken) {
  auto r = parseExchangeResponse(200, R"({"access_token":"eyJ.a.b","expires_in":"3600",
      "token_type":"Bearer","refresh_token":"AMf-new","id_token":"eyJ.a.b","user_id":"u",
      "project_id":"p"})");
  EXPECT_EQ(r.status, ExchangeStatus::kOk);
  EXPECT_EQ(r.accessToken, "eyJ.a.b");
  EXPECT_EQ(r.expiresIn, std::chrono::seconds(3600));
  EXPECT_EQ(r.refreshToken, "AMf-new");
}

TEST(TokenExchange, RejectedTokensAndKeysMarkTheAccountInvalid) {
  for (const char* message :
       {"INVALID_REFRESH_TOKEN", "TOKEN_EXPIRED", "USER_DISABLED", "USER_NOT_FOUND",
        "API key not valid. Please pass a valid API key."}) {
    std::string body = std::string(R"({"error":{"code":400,"message":")") + message +
                       R"(","status":"INVALID_ARGUMENT"}})";
    auto r = parseExchangeResponse(400, body);
    EXPECT_EQ(r.status, ExchangeStatus::kRejected) << message;
    EXPECT_EQ(r.error, message);
  }
  EXPECT_EQ(parseExchangeResponse(403, "forbidden").status, ExchangeStatus::kRejected);
}

TEST(TokenExchange, ServerErrorsRateLimitsAndGarbageAreRetried) {
  EXPECT_EQ(parseExchangeResponse(503, "").status, ExchangeStatus::kTransient);
  EXPECT_EQ(parseExchangeResponse(503, "").error, "HTTP 503");
  EXPECT_EQ(parseExchangeResponse(500, R"({"error":{"message":"INTERNAL"}})").error, "INTERNAL");
  EXPECT_EQ(parseExchangeResponse(429, "").status, ExchangeStatus::kTransient);
  EXPECT_EQ(parseExchangeResponse(200, "<html>").status, ExchangeStatus::kTransient);
  EXPECT_EQ(parseExchangeResponse(200, R"({"expires_in":"3600"})").status,
            ExchangeStatus::kTransient);
  EXPECT_EQ(parseExchangeResponse(0, "").status, ExchangeStatus::kTransient);
}

}  // namespace
}  // namespace accounts
