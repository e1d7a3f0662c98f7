#include "config/config.h"

#include <gtest/gtest.h>

#include <map>

namespace {

config::LoadResult loadFrom(std::map<std::string, std::string> vars, int cores = 4) {
  return config::load(
      [vars](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
      },
      cores);
}

}  // namespace

TEST(Config, DefaultsMatchTheOriginal) {
  auto r = loadFrom({}, 6);
  ASSERT_TRUE(r.config) << r.error;
  const auto& c = *r.config;
  EXPECT_EQ(c.port, 10022);
  EXPECT_TRUE(c.accounts.empty());
  EXPECT_TRUE(c.apiSecrets.empty());
  EXPECT_TRUE(c.chineseChatEnabled);
  EXPECT_FALSE(c.debug);
  EXPECT_EQ(c.proxyUrl, "");
  EXPECT_EQ(c.requestRateLimit, 60);
  EXPECT_EQ(c.routePrefix, "");
  EXPECT_EQ(c.rateLimitCookieLockDuration, 600);
  EXPECT_TRUE(c.ipBlackList.empty());
  EXPECT_EQ(c.qodoApiBase, "https://api.gen.qodo.ai");
  EXPECT_EQ(c.firebaseTokenUrl, "https://securetoken.googleapis.com/v1/token");
  EXPECT_EQ(c.dataDir, "./data");
  EXPECT_EQ(c.adminSecret, "");
  EXPECT_FALSE(c.reasoningHide);
  EXPECT_TRUE(c.trustedProxies.empty());
  EXPECT_EQ(c.workers, 6);
  EXPECT_EQ(c.maxBodyBytes, 10485760u);
  EXPECT_EQ(c.shutdownGraceSeconds, 30);
}

TEST(Config, ReadsEveryVariable) {
  auto r = loadFrom({{"PORT", "8080"},
                     {"QD_COOKIE", " keyA = tokA ,keyB=tok=B"},
                     {"API_SECRET", "s1, s2"},
                     {"CHINESE_CHAT_ENABLED", "false"},
                     {"DEBUG", "true"},
                     {"PROXY_URL", "socks5h://user:pass@127.0.0.1:1080"},
                     {"REQUEST_RATE_LIMIT", "5"},
                     {"ROUTE_PREFIX", "/hf/"},
                     {"RATE_LIMIT_COOKIE_LOCK_DURATION", "30"},
                     {"IP_BLACK_LIST", "1.2.3.4, ::ffff:5.6.7.8"},
                     {"QODO_API_BASE", "http://127.0.0.1:9/"},
                     {"FIREBASE_TOKEN_URL", "http://127.0.0.1:9/v1/token"},
                     {"DATA_DIR", "/tmp/q"},
                     {"ADMIN_SECRET", "adm"},
                     {"REASONING_HIDE", "1"},
                     {"TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
                     {"WORKERS", "3"},
                     {"MAX_BODY_BYTES", "1000"},
                     {"SHUTDOWN_GRACE_SECONDS", "5"},
                     {"ACCOUNT_STRATEGY", "round_robin"}});
  ASSERT_TRUE(r.config) << r.error;
  const auto& c = *r.config;
  EXPECT_EQ(c.port, 8080);
  ASSERT_EQ(c.accounts.size(), 2u);
  EXPECT_EQ(c.accounts[0].apiKey, "keyA");
  EXPECT_EQ(c.accounts[0].refreshToken, "tokA");
  EXPECT_EQ(c.accounts[1].refreshToken, "tok=B") << "split on the first '=' only";
  EXPECT_EQ(c.apiSecrets, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(c.apiKeyNames, (std::vector<std::string>{"s1", "s2"})) << "a key alone names itself";
  EXPECT_FALSE(c.chineseChatEnabled);
  EXPECT_TRUE(c.debug);
  EXPECT_EQ(c.proxyUrl, "socks5h://user:pass@127.0.0.1:1080");
  EXPECT_EQ(c.requestRateLimit, 5);
  EXPECT_EQ(c.routePrefix, "/hf");
  EXPECT_EQ(c.rateLimitCookieLockDuration, 30);
  EXPECT_EQ(c.ipBlackList, (std::vector<std::string>{"1.2.3.4", "5.6.7.8"}));
  EXPECT_EQ(c.qodoApiBase, "http://127.0.0.1:9");
  EXPECT_EQ(c.dataDir, "/tmp/q");
  EXPECT_EQ(c.adminSecret, "adm");
  EXPECT_TRUE(c.reasoningHide);
  ASSERT_EQ(c.trustedProxies.size(), 2u);
  EXPECT_TRUE(c.trustedProxies[0].contains("10.20.30.40"));
  EXPECT_TRUE(c.trustedProxies[1].contains("::1"));
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.maxBodyBytes, 1000u);
  EXPECT_EQ(c.shutdownGraceSeconds, 5);
  EXPECT_EQ(c.accountStrategy, config::AccountStrategy::kRoundRobin);
}

TEST(Config, EveryBadValueNamesItsVariable) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"PORT", "abc"},
      {"HOST", "localhost"},
      {"HOST", "1.2.3"},
      {"PORT", "70000"},
      {"PORT", "-1"},
      {"QD_COOKIE", "noequals"},
      {"QD_COOKIE", "k=v,=tok"},
      {"QD_COOKIE", "k="},
      {"CHINESE_CHAT_ENABLED", "maybe"},
      {"DEBUG", "2"},
      {"PROXY_URL", "ftp://host"},
      {"PROXY_URL", "not a url"},
      {"REQUEST_RATE_LIMIT", "-5"},
      {"REQUEST_RATE_LIMIT", "ten"},
      {"ROUTE_PREFIX", "a b"},
      {"RATE_LIMIT_COOKIE_LOCK_DURATION", "-1"},
      {"IP_BLACK_LIST", "1.2.3"},
      {"QODO_API_BASE", "api.gen.qodo.ai"},
      {"FIREBASE_TOKEN_URL", "file:///etc/passwd"},
      {"REASONING_HIDE", "yes please"},
      {"TRUSTED_PROXIES", "10.0.0.0/33"},
      {"TRUSTED_PROXIES", "proxy.local"},
      {"WORKERS", "0"},
      {"MAX_BODY_BYTES", "0"},
      {"SHUTDOWN_GRACE_SECONDS", "-3"},
      {"ACCOUNT_STRATEGY", "fastest"},
      {"UPSTREAM_IDLE_TIMEOUT_SECONDS", "0"},
  };
  for (const auto& [name, value] : bad) {
    auto r = loadFrom({{name, value}});
    EXPECT_FALSE(r.config) << name << "=" << value;
    EXPECT_EQ(r.error.rfind(name + ":", 0), 0u) << r.error;
    EXPECT_EQ(r.error.find('\n'), std::string::npos);
  }
}

TEST(Config, MalformedCookieErrorNamesThePositionButNotTheToken) {
  auto r = loadFrom({{"QD_COOKIE", "key1=secret-token-1,secret-token-2"}});
  ASSERT_FALSE(r.config);
  EXPECT_NE(r.error.find("entry 2"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("secret-token"), std::string::npos) << r.error;
}

TEST(Config, HostIsAnIpAddressInItsCanonicalFormAndEmptyMeansEveryInterface) {
  EXPECT_EQ(loadFrom({}).config->host, "");
  EXPECT_EQ(loadFrom({{"HOST", " 127.0.0.1 "}}).config->host, "127.0.0.1");
  EXPECT_EQ(loadFrom({{"HOST", "[::1]"}}).config->host, "::1");
  EXPECT_EQ(loadFrom({{"HOST", "0:0:0:0:0:0:0:1"}}).config->host, "::1");
}

TEST(Config, EmptyValuesMeanDefaults) {
  auto r = loadFrom({{"PORT", ""}, {"REQUEST_RATE_LIMIT", "  "}});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->port, 10022);
  EXPECT_EQ(r.config->requestRateLimit, 60);
}

TEST(Dotenv, ParsesCommentsQuotesAndExport) {
  auto entries = config::parseDotenv(
      "# comment\nPORT=1234\nexport DEBUG=true\nAPI_SECRET=\"a b\" \nX='q#1'\nY=v # note\n\nbad\n");
  std::map<std::string, std::string> m(entries.begin(), entries.end());
  EXPECT_EQ(m["PORT"], "1234");
  EXPECT_EQ(m["DEBUG"], "true");
  EXPECT_EQ(m["API_SECRET"], "a b");
  EXPECT_EQ(m["X"], "q#1");
  EXPECT_EQ(m["Y"], "v");
  EXPECT_EQ(m.count("bad"), 0u);
}

TEST(Dotenv, TheEnvironmentWinsOverTheFile) {
  setenv("QODO_TEST_DOTENV_VAR", "from-env", 1);
  auto env = config::processEnvWithDotenv("QODO_TEST_DOTENV_VAR=from-file\nQODO_ONLY_FILE=f\n");
  EXPECT_EQ(env("QODO_TEST_DOTENV_VAR"), "from-env");
  EXPECT_EQ(env("QODO_ONLY_FILE"), "f");
  EXPECT_EQ(env("QODO_NOT_SET_ANYWHERE"), std::nullopt);
  unsetenv("QODO_TEST_DOTENV_VAR");
}

TEST(Cidr, MatchesV4V6AndMappedAddresses) {
  auto v4 = config::Cidr::parse("192.168.0.0/16");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->contains("192.168.3.4"));
  EXPECT_TRUE(v4->contains("::ffff:192.168.3.4"));
  EXPECT_FALSE(v4->contains("192.169.0.1"));
  auto v6 = config::Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains("2001:db8:1::5"));
  EXPECT_FALSE(v6->contains("2001:db9::1"));
  auto host = config::Cidr::parse("10.1.2.3");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains("10.1.2.3"));
  EXPECT_FALSE(host->contains("10.1.2.4"));
  EXPECT_FALSE(config::Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(config::Cidr::parse("::1/129"));
}

TEST(Config, ApiSecretEntriesMayNameTheirKeysAndModelAliasesAreRules) {
  auto r = loadFrom({{"API_SECRET", "alice:sk-alice-1234, sk-bobbykey"},
                 {"MODEL_ALIASES", "claude-*haiku*=gemini-2.0-flash, gpt-4=gpt-4o"}});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->apiSecrets, (std::vector<std::string>{"sk-alice-1234", "sk-bobbykey"}));
  EXPECT_EQ(r.config->apiKeyNames, (std::vector<std::string>{"alice", "sk-bob"}));
  ASSERT_EQ(r.config->modelAliases.size(), 2u);
  EXPECT_EQ(r.config->modelAliases[0].pattern, "claude-*haiku*");
  EXPECT_EQ(r.config->modelAliases[1].model, "gpt-4o");
  auto bad = loadFrom({{"API_SECRET", "alice:"}});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("API_SECRET"), std::string::npos);
  bad = loadFrom({{"MODEL_ALIASES", "no-equals-sign"}});
  EXPECT_FALSE(bad.config);
  EXPECT_NE(bad.error.find("MODEL_ALIASES"), std::string::npos);
}

TEST(RedisUrl, ParsesHostPortCredentialsAndDatabase) {
  std::string error;
  auto t = config::parseRedisUrl("redis://user:pa%40ss@cache.internal:6380/3", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->host, "cache.internal");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->user, "user");
  EXPECT_EQ(t->password, "pa@ss");
  EXPECT_EQ(t->db, 3);

  t = config::parseRedisUrl("redis://127.0.0.1", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->port, 6379);
  EXPECT_EQ(t->db, 0);
  EXPECT_TRUE(t->password.empty());

  // A password alone (redis://:secret@host or redis://secret@host) is AUTH with the password.
  t = config::parseRedisUrl("redis://:s3cret@h:1", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->password, "s3cret");
  EXPECT_TRUE(t->user.empty());
}

TEST(RedisUrl, RefusesWhatCannotWorkWithoutEchoingThePassword) {
  std::string error;
  EXPECT_FALSE(config::parseRedisUrl("rediss://u:topsecret@h:6379", &error));
  EXPECT_NE(error.find("rediss://"), std::string::npos);
  EXPECT_EQ(error.find("topsecret"), std::string::npos);
  EXPECT_FALSE(config::parseRedisUrl("http://h:6379", &error));
  EXPECT_FALSE(config::parseRedisUrl("redis://h:6379/x", &error));
  EXPECT_FALSE(config::parseRedisUrl("redis://:pw@h:0", &error));
  EXPECT_EQ(error.find("pw"), std::string::npos);
  EXPECT_FALSE(config::parseRedisUrl("not a url", &error));
}
