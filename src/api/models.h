// The models the gateway offers (SPEC.md §3): the name a client asks for, the backend's
// `custom_model`, the token limit and the tiktoken encoding used to count usage.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "tokenizer/encoding.h"

namespace api {

using tokenizer::Encoding;

struct ModelInfo {
  std::string_view id;       // client-facing name
  std::string_view backend;  // Qodo custom_model
  Encoding encoding;
};

inline constexpr long kMaxTokensLimit = 100000;

std::span<const ModelInfo> models();
const ModelInfo* findModel(std::string_view id);  // nullptr when unknown
// Whether `model` is an entry of the seed table (which chats accounts serve).
bool isSeedModel(const ModelInfo* model);

// The entry for a model a command account lists under the backend's own name: its backend
// name is its name; the encoding is guessed from the name (OpenAI's newer families count with
// o200k_base, the rest with cl100k_base). Interned for the life of the process (bounded by the
// names accounts list), so the pointer stays valid.
const ModelInfo* liveModel(std::string_view id);

// Body of GET /v1/models: the seed table, then `live` names not in it; `created` is the Unix
// time shown for every model.
std::string modelsListJson(long created, std::span<const std::string> live = {});

// The same list in Anthropic's shape (SPEC §11): {"data":[{"type":"model","id","display_name",
// "created_at"}],"has_more":false,"first_id","last_id"}; created_at is `created` as RFC 3339.
std::string anthropicModelsJson(long created, std::span<const std::string> live = {});

}  // namespace api
