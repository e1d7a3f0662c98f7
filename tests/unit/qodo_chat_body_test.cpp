#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/models.h"
#include "qodo/chat_body.h"
#include "qodo/chinese_transform.h"

namespace {

namespace json = boost::json;

const qodo::ClientIds kIds{"11111111-1111-4111-8111-111111111111",
                           "22222222-2222-4222-8222-222222222222"};

struct Said {
  std::string role;
  std::string text;
};

// A conversation of text messages and the backend name of `model` (SPEC §3's table).
struct Request {
  conversation::Conversation conversation;
  std::string backend;
};

Request request(std::string model, const std::vector<Said>& messages) {
  Request r;
  const api::ModelInfo* info = api::findModel(model);
  r.backend = info ? std::string(info->backend) : model;
  r.conversation.model = std::move(model);
  for (const auto& [role, text] : messages) {
    const auto kind = role == "system"      ? conversation::Role::kSystem
                      : role == "assistant" ? conversation::Role::kAssistant
                      : role == "tool"      ? conversation::Role::kTool
                                            : conversation::Role::kUser;
    r.conversation.messages.push_back(conversation::Message::ofText(kind, text));
  }
  return r;
}

template <typename Ids>
std::string buildBody(const Request& r, Ids&& ids, bool chinese) {
  return qodo::buildChatBody(r.conversation, r.backend, ids, chinese);
}

json::object parsed(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << body;
  return ec ? json::object() : v.as_object();
}

std::string contentOf(const json::value& turn) {
  return std::string(turn.as_object().at("content").as_string());
}

std::vector<std::string> keys(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

TEST(ChatBody, HasEveryFieldOfTheBackendBodyInOrderWithItsConstants) {
  auto body = parsed(
      buildBody(request("deepseek-r1", {{"system", "sys"}, {"user", "question"}}), kIds, true));
  EXPECT_EQ(keys(body), (std::vector<std::string>{
                            "max_remote_context", "remote_context_tags", "max_repo_context",
                            "user_data", "task", "chat_input", "previous_messages", "user_context",
                            "repo_context", "custom_model", "supports_artifacts"}));
  EXPECT_EQ(body["max_remote_context"], 0);
  EXPECT_EQ(body["remote_context_tags"], json::array());
  EXPECT_EQ(body["max_repo_context"], 5);
  EXPECT_EQ(body["user_data"],
            (json::object{{"installation_id", kIds.installationId},
                          {"installation_fingerprint_uuid", kIds.fingerprintUuid},
                          {"editor_version", "1.98.2"},
                          {"extension_version", "1.0.4"},
                          {"os_platform", "darwin"},
                          {"os_version", "v20.18.2"},
                          {"editor_type", "vscode"}}));
  EXPECT_EQ(keys(body["user_data"].as_object()).front(), "installation_id");
  EXPECT_EQ(body["task"], "");
  EXPECT_EQ(body["chat_input"], "question");
  EXPECT_EQ(body["previous_messages"],
            (json::array{json::object{{"role", "system"}, {"content", "sys"}}}));
  EXPECT_EQ(body["user_context"], json::array());
  EXPECT_EQ(body["repo_context"], json::array());
  EXPECT_EQ(body["custom_model"], "deepseek-r1-full");
  EXPECT_EQ(body["supports_artifacts"], true);
}

TEST(ChatBody, UserTurnsCarryCommandAndModeOthersDoNot) {
  auto body = parsed(buildBody(
      request("gpt-4o", {{"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}}), kIds, true));
  json::array previous = body["previous_messages"].as_array();
  ASSERT_EQ(previous.size(), 2u);
  EXPECT_EQ(keys(previous[0].as_object()),
            (std::vector<std::string>{"role", "content", "command", "mode"}));
  EXPECT_EQ(previous[0],
            (json::object{
                {"role", "user"}, {"content", "u1"}, {"command", "chat"}, {"mode", "freeChat"}}));
  EXPECT_EQ(previous[1], (json::object{{"role", "assistant"}, {"content", "a1"}}));
  EXPECT_EQ(body["chat_input"], "u2");
}

TEST(ChatBody, NoUserMessageSendsHi) {
  auto body = parsed(buildBody(request("gpt-4o", {{"system", "s"}}), kIds, true));
  EXPECT_EQ(body["chat_input"], "hi!");
}

TEST(ChatBody, CustomModelComesFromTheModelsTable) {
  auto body = parsed(buildBody(request("deepseek-r1-32b", {{"user", "x"}}), kIds, true));
  EXPECT_EQ(body["custom_model"], "deepseek-r1");
}

TEST(ChatBody, TextIsEscapedIntoValidJson) {
  const std::string tricky = "quote \" backslash \\ newline \n tab \t bell \x07 中文";
  auto body = parsed(buildBody(request("gpt-4o", {{"user", tricky}}), kIds, false));
  EXPECT_EQ(body["chat_input"].as_string(), tricky);
}

TEST(ChatBody, ChineseConversationIsTransformedWhenEnabled) {
  auto body =
      parsed(buildBody(request("gpt-4o", {{"system", "be nice"}, {"user", "你好"}}), kIds, true));
  EXPECT_EQ(body["chat_input"], "%E4%BD%A0%E5%A5%BD");
  json::array previous = body["previous_messages"].as_array();
  ASSERT_EQ(previous.size(), 3u);
  EXPECT_EQ(contentOf(previous[0]), std::string(qodo::kChineseInstruction) + "\n\nbe+nice");
  EXPECT_EQ(contentOf(previous[1]), qodo::kChineseConfirmQuestion);
  EXPECT_EQ(previous[1].as_object().at("mode"), "freeChat");
  EXPECT_EQ(contentOf(previous[2]), qodo::kChineseConfirmAnswer);
}

TEST(ChatBody, ChineseConversationPassesUntouchedWhenDisabled) {
  auto body =
      parsed(buildBody(request("gpt-4o", {{"system", "be nice"}, {"user", "你好"}}), kIds, false));
  EXPECT_EQ(body["chat_input"], "你好");
  ASSERT_EQ(body["previous_messages"].as_array().size(), 1u);
}

TEST(ChatBody, EnglishConversationIsNeverTransformed) {
  auto body = parsed(
      buildBody(request("gpt-4o", {{"system", "be nice"}, {"user", "hello there"}}), kIds, true));
  EXPECT_EQ(body["chat_input"], "hello there");
  ASSERT_EQ(body["previous_messages"].as_array().size(), 1u);
}

TEST(ChatBody, RandomIdsAreTwoDifferentUuid4s) {
  std::mt19937_64 rng(11);
  auto body = parsed(buildBody(request("gpt-4o", {{"user", "x"}}), rng, true));
  const json::object& user = body["user_data"].as_object();
  const std::string a(user.at("installation_id").as_string());
  const std::string b(user.at("installation_fingerprint_uuid").as_string());
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

}  // namespace
