// The work-around for the backend's refusal of Chinese conversations (SPEC.md §6): the text is
// sent URL-encoded with an instruction to decode it and answer in plain Simplified Chinese.
#pragma once

#include <string>
#include <string_view>

#include "qodo/chat_turns.h"

namespace qodo {

// The instruction block put before the system text; English, so the block itself passes.
extern const std::string_view kChineseInstruction;
extern const std::string_view kChineseConfirmQuestion;  // appended user turn
extern const std::string_view kChineseConfirmAnswer;    // appended assistant turn

// True when `text` holds Han, Hiragana, Katakana, Hangul, CJK punctuation or fullwidth forms.
bool containsCjk(std::string_view text);

// application/x-www-form-urlencoded: A-Z a-z 0-9 - _ . ~ * kept, space as '+', every other
// UTF-8 byte as %XX with uppercase hex.
std::string formUrlEncode(std::string_view text);

// True when any turn or chat_input holds CJK text.
bool needsChineseTransform(const ChatTurns& turns);

// Puts kChineseInstruction before the (URL-encoded) text of the first system turn, or inserts
// a system turn holding it first; URL-encodes chat_input and every other turn; then appends
// the two confirmation turns unencoded.
void applyChineseTransform(ChatTurns& turns);

}  // namespace qodo
