// The JSON body of the backend's POST /v2/chats/chat (SPEC.md §4) built from a client's chat
// request, with the Chinese work-around (§6) applied when it is enabled and needed.
#pragma once

#include <concepts>
#include <random>
#include <string>

#include "api/chat_request.h"
#include "qodo/conversation.h"
#include "qodo/uuid.h"

namespace qodo {

// The two uuid4 values of `user_data`; the backend sees them as one editor installation.
struct ClientIds {
  std::string installationId;
  std::string fingerprintUuid;
};

template <std::uniform_random_bit_generator Random>
ClientIds randomClientIds(Random& random) {
  ClientIds ids;
  ids.installationId = newUuid4(random);
  ids.fingerprintUuid = newUuid4(random);
  return ids;
}

// The body as sent: field order and constant values as the VS Code extension sends them.
std::string chatBodyJson(const Conversation& conversation, std::string_view backendModel,
                         const ClientIds& ids);

// toConversation, the Chinese transform when `chineseChatEnabled` and the conversation holds
// CJK text, then chatBodyJson with the model's backend name.
std::string buildChatBody(const api::ChatRequest& request, const ClientIds& ids,
                          bool chineseChatEnabled);

template <std::uniform_random_bit_generator Random>
std::string buildChatBody(const api::ChatRequest& request, Random& random,
                          bool chineseChatEnabled) {
  return buildChatBody(request, randomClientIds(random), chineseChatEnabled);
}

}  // namespace qodo
