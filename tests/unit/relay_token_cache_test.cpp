// The token-count cache (issue 14): the same message is counted once, a hit gives exactly the
// tokenizer's count, anything that changes the count changes the key, and memory is bounded.
#include <gtest/gtest.h>

#include "relay/token_cache.h"
#include "relay/usage.h"

namespace {

using conversation::Message;
using conversation::Role;
using tokenizer::Encoding;

std::string longText(int seed) {
  std::string s;
  for (int i = 0; i < 200; ++i) s += "word" + std::to_string(seed * 1000 + i) + " ";
  return s;
}

TEST(TokenCountCache, TheSameMessageIsCountedOnceAndExactly) {
  relay::TokenCountCache cache;
  const Message m = Message::ofText(Role::kUser, longText(1));
  const size_t exact = relay::countMessage(m, Encoding::kCl100kBase);
  EXPECT_EQ(cache.messageTokens(m, Encoding::kCl100kBase), exact);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.messageTokens(m, Encoding::kCl100kBase), exact);
  EXPECT_EQ(cache.hits(), 1u);
  // Another role, encoding or text is another key.
  EXPECT_EQ(cache.messageTokens(Message::ofText(Role::kAssistant, longText(1)), Encoding::kCl100kBase),
            relay::countMessage(Message::ofText(Role::kAssistant, longText(1)), Encoding::kCl100kBase));
  EXPECT_EQ(cache.messageTokens(m, Encoding::kO200kBase), relay::countMessage(m, Encoding::kO200kBase));
  Message withCall = m;
  withCall.parts.emplace_back(conversation::ToolCall{"c1", "f", R"({"a":1})"});
  EXPECT_EQ(cache.messageTokens(withCall, Encoding::kCl100kBase),
            relay::countMessage(withCall, Encoding::kCl100kBase));
  EXPECT_EQ(cache.misses(), 4u);
  // Short messages are not cached.
  cache.messageTokens(Message::ofText(Role::kUser, "hi"), Encoding::kCl100kBase);
  EXPECT_EQ(cache.hits() + cache.misses(), 5u);
}

TEST(TokenCountCache, EntriesAreBounded) {
  relay::TokenCountCache cache(4);
  for (int i = 0; i < 300; ++i)
    cache.messageTokens(Message::ofText(Role::kUser, longText(i)), Encoding::kCl100kBase);
  EXPECT_LE(cache.entries(), relay::TokenCountCache::kShards * 2 * 4);
}

TEST(TokenCountCache, PromptTokensAreUnchangedByTheCache) {
  conversation::Conversation c;
  c.messages = {Message::ofText(Role::kSystem, "Be brief."), Message::ofText(Role::kUser, longText(7)),
                Message::ofText(Role::kAssistant, longText(8)), Message::ofText(Role::kUser, "and?")};
  size_t expected = 3;
  for (const auto& m : c.messages) expected += relay::countMessage(m, Encoding::kCl100kBase);
  EXPECT_EQ(relay::promptTokens(c, Encoding::kCl100kBase), expected);
  EXPECT_EQ(relay::promptTokens(c, Encoding::kCl100kBase), expected);  // from the cache
}

}  // namespace
