// What counting a prompt costs (issue 14): a conversation that grows by one 10 KB turn per
// request, counted the way the relay counts it — every message through the tokenizer (cold) or
// through the token-count cache, where only the new turn is counted (warm).
#include <benchmark/benchmark.h>

#include <string>

#include "relay/token_cache.h"
#include "relay/usage.h"

namespace {

using conversation::Message;
using conversation::Role;

std::string turn(int i) {
  std::string s;
  while (s.size() < 10240)
    s += "In turn " + std::to_string(i) + " the model explained step " + std::to_string(s.size()) +
         " of the plan, with code like `for (int k = 0; k < n; ++k) sum += k;` and prose. ";
  return s;
}

conversation::Conversation conversationOf(int turns) {
  conversation::Conversation c;
  c.messages.push_back(Message::ofText(Role::kSystem, "You are a careful assistant."));
  for (int i = 0; i < turns; ++i)
    c.messages.push_back(Message::ofText(i % 2 ? Role::kAssistant : Role::kUser, turn(i)));
  return c;
}

// The 20th request of the conversation, every message counted by the tokenizer.
void promptCold(benchmark::State& state) {
  const auto c = conversationOf(20);
  for (auto _ : state) {
    size_t total = 3;
    for (const auto& m : c.messages) total += relay::countMessage(m, tokenizer::Encoding::kCl100kBase);
    benchmark::DoNotOptimize(total);
  }
}

// The same request after the 19 before it: the history comes from the cache.
void promptWarm(benchmark::State& state) {
  const auto c = conversationOf(20);
  relay::promptTokens(c, tokenizer::Encoding::kCl100kBase);  // the earlier turns
  for (auto _ : state)
    benchmark::DoNotOptimize(relay::promptTokens(c, tokenizer::Encoding::kCl100kBase));
}

}  // namespace

BENCHMARK(promptCold)->Unit(benchmark::kMicrosecond);
BENCHMARK(promptWarm)->Unit(benchmark::kMicrosecond);
