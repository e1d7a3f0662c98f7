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

// Body of GET /v1/models; `created` is the Unix time shown for every model.
std::string modelsListJson(long created);

}  // namespace api
