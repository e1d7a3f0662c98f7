// Which model a client's model name stands for (SPEC.md §2, MODEL_ALIASES): the operator's
// rules first, then, for Anthropic's own model ids (what Claude Code and the Anthropic SDKs
// send), the closest Claude model the accounts offer. The table is in docs/anthropic.md.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/config.h"

namespace api {

// `*` matches any run of characters (none included); everything else matches itself.
bool globMatch(std::string_view pattern, std::string_view text);

// The first rule whose pattern matches `model`, or null.
const config::ModelAlias* matchAlias(std::span<const config::ModelAlias> rules,
                                     std::string_view model);

// An Anthropic model id ("claude-sonnet-4-5-20250929", "claude-3-5-haiku-latest", …).
bool isAnthropicModelId(std::string_view model);

// The offered Claude model closest to the Anthropic id `model`: the same family (opus, sonnet,
// haiku; sonnet when the id names none) at the highest version, else a sonnet, else any Claude
// model at the highest version; empty when `offered` holds no Claude model.
std::string closestClaude(std::string_view model, std::span<const std::string> offered);

}  // namespace api
