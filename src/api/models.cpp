#include "api/models.h"

#include <boost/json.hpp>

#include <array>
#include <ctime>
#include <vector>
#include <map>
#include <memory>
#include <mutex>
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

bool isSeedModel(const ModelInfo* model) {
  return model >= kModels.data() && model < kModels.data() + kModels.size();
}

const ModelInfo* liveModel(std::string_view id) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<ModelInfo>, std::less<>> interned;
  std::lock_guard lock(mutex);
  if (auto it = interned.find(id); it != interned.end()) return it->second.get();
  auto [it, inserted] = interned.emplace(std::string(id), nullptr);
  auto starts = [&](std::string_view prefix) { return id.substr(0, prefix.size()) == prefix; };
  const bool o200k = starts("gpt-4o") || starts("gpt-4.1") || starts("gpt-5") || starts("o1") ||
                     starts("o3") || starts("o4") || starts("chatgpt-4o");
  it->second = std::make_unique<ModelInfo>(
      ModelInfo{it->first, it->first, o200k ? Encoding::kO200kBase : Encoding::kCl100kBase});
  return it->second.get();
}

std::string modelsListJson(long created, std::span<const std::string> live) {
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
  for (const auto& name : live) {
    if (findModel(name) != nullptr) continue;
    out += first ? "" : ",";
    first = false;
    out += R"({"id":)";
    out += boost::json::serialize(boost::json::value(name));
    out += R"(,"object":"model","created":)" + createdText + R"(,"owned_by":"qodo"})";
  }
  out += "]}";
  return out;
}

std::string anthropicModelsJson(long created, std::span<const std::string> live) {
  std::vector<std::string_view> ids;
  for (const auto& m : kModels) ids.push_back(m.id);
  for (const auto& name : live)
    if (findModel(name) == nullptr) ids.push_back(name);
  char createdAt[32] = "1970-01-01T00:00:00Z";
  const std::time_t t = created;
  std::tm tm{};
  if (gmtime_r(&t, &tm)) std::strftime(createdAt, sizeof createdAt, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string out = R"({"data":[)";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out += ',';
    const std::string id = boost::json::serialize(boost::json::value(ids[i]));
    out += R"({"type":"model","id":)" + id + R"(,"display_name":)" + id +
           R"(,"created_at":")" + createdAt + "\"}";
  }
  out += R"(],"has_more":false,"first_id":)";
  out += ids.empty() ? "null" : boost::json::serialize(boost::json::value(ids.front()));
  out += R"(,"last_id":)";
  out += ids.empty() ? "null" : boost::json::serialize(boost::json::value(ids.back()));
  out += '}';
  return out;
}

}  // namespace api
