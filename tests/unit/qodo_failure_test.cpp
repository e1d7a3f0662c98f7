#include <gtest/gtest.h>

#include "qodo/failure.h"

namespace {

using qodo::classifyFailure;
using qodo::Failure;

TEST(FailureClassifier, NormalAnswersAreOk) {
  EXPECT_EQ(classifyFailure(200, R"({"type":"text","data":{"content":"hi"}})"), Failure::kNone);
  EXPECT_EQ(classifyFailure(200, R"(data: {"type":"text","data":{"content":"hi"}})"),
            Failure::kNone);
  EXPECT_EQ(classifyFailure(200, ""), Failure::kNone);
}

TEST(FailureClassifier, TooManyRequestsRestsTheAccount) {
  EXPECT_EQ(classifyFailure(429, ""), Failure::kRateLimited);
  EXPECT_EQ(classifyFailure(429, "<html>slow down</html>"), Failure::kRateLimited);
  EXPECT_EQ(classifyFailure(200, R"({"error":"Too many concurrent requests","x":1})"),
            Failure::kRateLimited);
  EXPECT_EQ(classifyFailure(400, R"( { "error" : "Too many concurrent requests"})"),
            Failure::kRateLimited);
}

TEST(FailureClassifier, UsageLimitExhaustsTheAccountWhateverTheStatus) {
  for (int status : {200, 400, 402, 403, 429, 500}) {
    EXPECT_EQ(classifyFailure(status, R"({"error":"Usage limit exceeded","reset":"tomorrow"})"),
              Failure::kUsageExhausted)
        << status;
  }
  EXPECT_EQ(classifyFailure(200, R"(data: {"error":"Usage limit exceeded for plan"})"),
            Failure::kUsageExhausted);
}

TEST(FailureClassifier, InvalidTokenByStatusOrBody) {
  EXPECT_EQ(classifyFailure(401, ""), Failure::kInvalidToken);
  EXPECT_EQ(classifyFailure(200, R"({"error":"Invalid token"})"), Failure::kInvalidToken);
  EXPECT_EQ(classifyFailure(400, R"({"detail":{"error":"Invalid token"}})"),
            Failure::kInvalidToken);
}

TEST(FailureClassifier, ForbiddenAndServerErrors) {
  EXPECT_EQ(classifyFailure(403, "Forbidden"), Failure::kForbidden);
  EXPECT_EQ(classifyFailure(500, ""), Failure::kServerError);
  EXPECT_EQ(classifyFailure(502, "<html>Bad Gateway</html>"), Failure::kServerError);
  EXPECT_EQ(classifyFailure(599, ""), Failure::kServerError);
}

TEST(FailureClassifier, ChineseRefusalIsRecognisedAnywhereInTheBody) {
  const char* refusal =
      "Detected that you are using Chinese for conversation, please use English for "
      "conversation.";
  EXPECT_EQ(classifyFailure(400, refusal), Failure::kChineseDetected);
  EXPECT_EQ(classifyFailure(200, std::string(R"({"error":")") + refusal + "\"}"),
            Failure::kChineseDetected);
  EXPECT_EQ(
      classifyFailure(200, std::string(R"({"type":"text","data":{"content":")") + refusal + "\"}}"),
      Failure::kChineseDetected);
}

TEST(FailureClassifier, OtherErrorsAreBackendErrors) {
  EXPECT_EQ(classifyFailure(404, "not found"), Failure::kBackendError);
  EXPECT_EQ(classifyFailure(422, R"({"detail":"bad body"})"), Failure::kBackendError);
  EXPECT_EQ(classifyFailure(200, R"({"error":"Something else"})"), Failure::kBackendError);
  EXPECT_EQ(classifyFailure(302, ""), Failure::kBackendError);
}

TEST(FailureClassifier, EveryFailureHasADescription) {
  for (auto f : {Failure::kNone, Failure::kRateLimited, Failure::kUsageExhausted,
                 Failure::kInvalidToken, Failure::kForbidden, Failure::kServerError,
                 Failure::kChineseDetected, Failure::kBackendError}) {
    EXPECT_FALSE(qodo::describe(f).empty());
  }
}

}  // namespace
