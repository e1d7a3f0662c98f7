// The JSON body of the backend's POST /v2/chats/chat (SPEC.md §4) built from a conversation,
// with the Chinese work-around (§6) applied when it is enabled and needed.
#pragma once

#include <concepts>
#include <random>
#include <string>
#include <string_view>

#include "qodo/chat_turns.h"
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
std::string chatBodyJson(const ChatTurns& turns, std::string_view backendModel,
                         const ClientIds& ids);

// The chats backend's encoding of a conversation: toChatTurns, the Chinese transform when
// `chineseChatEnabled` and the conversation holds CJK text, then chatBodyJson with the model's
// backend name.
std::string buildChatBody(const conversation::Conversation& conversation,
                          std::string_view backendModel, const ClientIds& ids,
                          bool chineseChatEnabled);

template <std::uniform_random_bit_generator Random>
std::string buildChatBody(const conversation::Conversation& conversation,
                          std::string_view backendModel, Random& random, bool chineseChatEnabled) {
  return buildChatBody(conversation, backendModel, randomClientIds(random), chineseChatEnabled);
}

}  // namespace qodo
