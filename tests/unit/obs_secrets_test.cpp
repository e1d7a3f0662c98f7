#include "obs/secrets.h"

#include <gtest/gtest.h>

TEST(Secrets, MaskShowsSixCharactersThenAnEllipsis) {
  EXPECT_EQ(obs::maskSecret("AMf-vBxSecretRefreshToken"), "AMf-vB…");
  EXPECT_EQ(obs::maskSecret("short"), "…");
}

TEST(Secrets, RedactsJsonFormAndHeaderSecrets) {
  const std::string text =
      R"({"refresh_token":"rt-123","access_token": "at-456","other":"keep"} )"
      "grant_type=refresh_token&refresh_token=rt-789&x=1 Authorization: Bearer at-000\n";
  const std::string out = obs::redactSecrets(text);
  for (const char* secret : {"rt-123", "at-456", "rt-789", "at-000"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in " << out;
  EXPECT_NE(out.find("keep"), std::string::npos);
  EXPECT_NE(out.find("x=1"), std::string::npos);
}

TEST(Secrets, ConstantTimeEqualsComparesWholeValues) {
  EXPECT_TRUE(obs::constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(obs::constantTimeEquals("abd", "abc"));
  EXPECT_FALSE(obs::constantTimeEquals("ab", "abc"));
  EXPECT_FALSE(obs::constantTimeEquals("abcd", "abc"));
  EXPECT_TRUE(obs::constantTimeEquals("", ""));
}
