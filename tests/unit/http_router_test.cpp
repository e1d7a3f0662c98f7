#include "http/router.h"

#include <gtest/gtest.h>

using http::RouteId;

TEST(Router, RoutesTheOpenAiSurface) {
  EXPECT_EQ(http::route("GET", "/v1/models", "").id, RouteId::kModels);
  EXPECT_EQ(http::route("POST", "/v1/chat/completions", "").id, RouteId::kChatCompletions);
  EXPECT_EQ(http::route("POST", "/v1/chat/completions?x=1", "").id, RouteId::kChatCompletions);
  EXPECT_EQ(http::route("GET", "/v1/models/", "").id, RouteId::kModels);
  EXPECT_EQ(http::route("GET", "/v1/nothing", "").id, RouteId::kNotFound);
}

TEST(Router, WrongMethodIs405WithAllow) {
  auto r = http::route("GET", "/v1/chat/completions", "");
  EXPECT_EQ(r.id, RouteId::kMethodNotAllowed);
  EXPECT_EQ(r.allow, "POST");
  EXPECT_EQ(http::route("PUT", "/admin/accounts", "").allow, "GET, POST");
}

TEST(Router, PrefixAppliesToApiNotToOperations) {
  EXPECT_EQ(http::route("GET", "/hf/v1/models", "/hf").id, RouteId::kModels);
  EXPECT_EQ(http::route("GET", "/v1/models", "/hf").id, RouteId::kNotFound);
  EXPECT_EQ(http::route("GET", "/hfx/v1/models", "/hf").id, RouteId::kNotFound);
  EXPECT_EQ(http::route("GET", "/healthz", "/hf").id, RouteId::kHealthz);
  EXPECT_EQ(http::route("GET", "/readyz", "/hf").id, RouteId::kReadyz);
  EXPECT_EQ(http::route("GET", "/metrics", "/hf").id, RouteId::kMetrics);
  EXPECT_EQ(http::route("GET", "/a/b/v1/models", "/a/b").id, RouteId::kModels);
}

TEST(Router, AdminRoutesCarryTheAccountId) {
  auto del = http::route("DELETE", "/admin/accounts/42", "");
  EXPECT_EQ(del.id, RouteId::kAdminAccount);
  EXPECT_EQ(del.accountId, 42);
  auto enable = http::route("POST", "/admin/accounts/7/enable", "");
  EXPECT_EQ(enable.id, RouteId::kAdminAccountEnable);
  EXPECT_EQ(enable.accountId, 7);
  EXPECT_EQ(http::route("DELETE", "/admin/accounts/x", "").id, RouteId::kNotFound);
  EXPECT_EQ(http::route("DELETE", "/admin/accounts/-1", "").id, RouteId::kNotFound);
  EXPECT_EQ(http::route("DELETE", "/admin/accounts/1/other", "").id, RouteId::kNotFound);
}

TEST(Router, MetricsLabelIsTheTemplateNotTheRawPath) {
  EXPECT_EQ(http::route("DELETE", "/admin/accounts/42", "").label, "/admin/accounts/{id}");
  EXPECT_EQ(http::route("GET", "/random/junk/123", "").label, "other");
}
