#include "relay/token_cache.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <utility>
#include <variant>

#include "tokenizer/tokenizer.h"

namespace relay {

size_t countMessage(const conversation::Message& m, tokenizer::Encoding encoding) {
  using tokenizer::countTokens;
  size_t total = 3 + countTokens(encoding, conversation::roleName(m.role)) +
                 countTokens(encoding, m.text());
  for (const auto& part : m.parts)
    if (const auto* call = std::get_if<conversation::ToolCall>(&part))
      total += countTokens(encoding, call->name) + countTokens(encoding, call->arguments);
  return total;
}

size_t TokenCountCache::DigestHash::operator()(const Digest& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 is uniform already
  return h;
}

TokenCountCache& TokenCountCache::shared() {
  static TokenCountCache cache;
  return cache;
}

size_t TokenCountCache::entries() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.current.size() + s.older.size();
  }
  return n;
}

size_t TokenCountCache::messageTokens(const conversation::Message& m,
                                      tokenizer::Encoding encoding) {
  size_t bytes = 0;
  for (const auto& part : m.parts) {
    if (const auto* t = std::get_if<conversation::Text>(&part)) bytes += t->text.size();
    if (const auto* r = std::get_if<conversation::ToolResult>(&part)) bytes += r->content.size();
    if (const auto* c = std::get_if<conversation::ToolCall>(&part)) bytes += c->arguments.size();
  }
  if (bytes < kMinBytes) return countMessage(m, encoding);

  // The key: every byte the count depends on, each field length-prefixed.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  auto add = [&ctx](std::string_view field) {
    const uint64_t n = field.size();
    EVP_DigestUpdate(ctx.get(), &n, sizeof n);
    EVP_DigestUpdate(ctx.get(), field.data(), field.size());
  };
  const unsigned char enc = static_cast<unsigned char>(encoding);
  EVP_DigestUpdate(ctx.get(), &enc, 1);
  add(conversation::roleName(m.role));
  for (const auto& part : m.parts) {
    if (const auto* t = std::get_if<conversation::Text>(&part)) {
      add("t");
      add(t->text);
    } else if (const auto* r = std::get_if<conversation::ToolResult>(&part)) {
      add("r");
      add(r->content);
    } else if (const auto* c = std::get_if<conversation::ToolCall>(&part)) {
      add("c");
      add(c->name);
      add(c->arguments);
    }
  }
  Digest digest;
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);

  Shard& shard = shards_[digest[31] % kShards];
  {
    std::lock_guard lock(shard.mutex);
    if (auto it = shard.current.find(digest); it != shard.current.end()) {
      ++hits_;
      return it->second;
    }
    if (auto it = shard.older.find(digest); it != shard.older.end()) {
      const uint32_t n = it->second;
      shard.older.erase(it);
      if (shard.current.size() >= generation_) shard.older = std::exchange(shard.current, Map());
      shard.current.emplace(digest, n);
      ++hits_;
      return n;
    }
  }
  ++misses_;
  const size_t n = countMessage(m, encoding);  // outside the lock: the expensive part
  std::lock_guard lock(shard.mutex);
  if (shard.current.size() >= generation_) shard.older = std::exchange(shard.current, Map());
  shard.current.emplace(digest, static_cast<uint32_t>(n));
  return n;
}

}  // namespace relay
