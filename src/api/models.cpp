#include "api/models.h"

#include <array>
#include <string>

namespace api {
namespace {

constexpr std::array<ModelInfo, 10> kModels = {{
    {"claude-3-7-sonnet", "claude-3-7-sonnet", Encoding::kCl100kBase},
    {"claude-3-5-sonnet", "claude-3-5-sonnet", Encoding::kCl100kBase},
    {"deepseek-r1", "deepseek-r1-full", Encoding::kCl100kBase},
    {"deepseek-r1-32b", "deepseek-r1", Encoding::kCl100kBase},
    {"gpt-4o", "gpt-4o", Encoding::kO200kBase},
    {"o1", "o1", Encoding::kO200kBase},
    {"o3-mini", "o3-mini", Encoding::kO200kBase},
    {"o3-mini-high", "o3-mini-high", Encoding::kO200kBase},
    {"gemini-2.5-pro", "gemini-2.5-pro", Encoding::kCl100kBase},
    {"gemini-2.0-flash", "gemini-2.0-flash", Encoding::kCl100kBase},
}};

}  // namespace

std::span<const ModelInfo> models() { return kModels; }

const ModelInfo* findModel(std::string_view id) {
  for (const auto& m : kModels)
    if (m.id == id) return &m;
  return nullptr;
}

std::string modelsListJson(long created) {
  std::string out = R"({"object":"list","data":[)";
  const std::string createdText = std::to_string(created);
  bool first = true;
  for (const auto& m : kModels) {
    if (!first) out += ',';
    first = false;
    out += R"({"id":")";
    out += m.id;
    out += R"(","object":"model","created":)" + createdText + R"(,"owned_by":"qodo"})";
  }
  out += "]}";
  return out;
}

}  // namespace api
