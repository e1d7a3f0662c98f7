#include "api/model_alias.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view familyOf(std::string_view id) {
  for (std::string_view family : {"opus", "sonnet", "haiku"})
    if (id.find(family) != std::string_view::npos) return family;
  return "";
}

// The version numbers a name carries, in order, dates (eight digits and more) left out:
// "claude-4.5-sonnet" → {4, 5}; "claude-3-7-sonnet-20250219" → {3, 7}.
std::vector<long> versionOf(std::string_view name) {
  std::vector<long> out;
  for (size_t i = 0; i < name.size();) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    if (j - i < 8) out.push_back(std::stol(std::string(name.substr(i, j - i))));
    i = j;
  }
  return out;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point (the last '*'): linear in practice.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const config::ModelAlias* matchAlias(std::span<const config::ModelAlias> rules,
                                     std::string_view model) {
  for (const auto& rule : rules)
    if (globMatch(rule.pattern, model)) return &rule;
  return nullptr;
}

bool isAnthropicModelId(std::string_view model) {
  return lower(model).rfind("claude", 0) == 0;
}

std::string closestClaude(std::string_view model, std::span<const std::string> offered) {
  std::string_view wanted = familyOf(lower(model));
  if (wanted.empty()) wanted = "sonnet";
  const std::string* best = nullptr;
  int bestRank = -1;
  std::vector<long> bestVersion;
  for (const auto& name : offered) {
    const std::string l = lower(name);
    if (l.find("claude") == std::string::npos) continue;
    const std::string_view family = familyOf(l);
    const int rank = family == wanted ? 2 : family == "sonnet" ? 1 : 0;
    std::vector<long> version = versionOf(l);
    if (rank > bestRank || (rank == bestRank && version > bestVersion)) {
      best = &name;
      bestRank = rank;
      bestVersion = std::move(version);
    }
  }
  return best ? *best : std::string();
}

}  // namespace api
