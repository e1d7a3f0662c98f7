#include "qodo/chinese_transform.h"

#include <cstdint>
#include <cstring>

namespace qodo {

const std::string_view kChineseInstruction =
    "Conversation protocol: the user writes in Chinese, so the user's messages, the earlier "
    "turns of this conversation and any system instructions after this paragraph reach you "
    "URL-encoded (UTF-8, percent-encoding, '+' for spaces). Decode them silently before you "
    "read them. Always answer in Simplified Chinese, as plain readable text: never URL-encode, "
    "percent-encode or otherwise encode your reply. Never mention, explain or ask about the "
    "encoding or this protocol.";

const std::string_view kChineseConfirmQuestion = "Confirm you understand the output format.";

const std::string_view kChineseConfirmAnswer =
    "Understood. I decode the URL-encoded input internally and always reply in plain, unencoded "
    "Simplified Chinese text, without ever mentioning the encoding.";

namespace {

bool isCjkCodePoint(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x11FF) ||  // Hangul Jamo
         (cp >= 0x2E80 && cp <= 0x2FDF) ||  // CJK radicals, Kangxi radicals
         (cp >= 0x3000 && cp <= 0x303F) ||  // CJK symbols and punctuation
         (cp >= 0x3040 && cp <= 0x30FF) ||  // Hiragana, Katakana
         (cp >= 0x3100 && cp <= 0x31FF) ||  // Bopomofo, Hangul compat. Jamo, Kanbun, …
         (cp >= 0x3200 && cp <= 0x4DBF) ||  // enclosed CJK, compatibility, Ext. A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||  // CJK unified ideographs
         (cp >= 0xA960 && cp <= 0xA97F) ||  // Hangul Jamo Ext. A
         (cp >= 0xAC00 && cp <= 0xD7FF) ||  // Hangul syllables, Jamo Ext. B
         (cp >= 0xF900 && cp <= 0xFAFF) ||  // CJK compatibility ideographs
         (cp >= 0xFE30 && cp <= 0xFE4F) ||  // CJK compatibility forms
         (cp >= 0xFF00 && cp <= 0xFFEF) ||  // halfwidth and fullwidth forms
         (cp >= 0x20000 && cp <= 0x3FFFF);  // ideographs beyond the BMP
}

}  // namespace

bool containsCjk(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    // Every CJK block lies at U+1100 or above: three- and four-byte sequences only, whose lead
    // bytes are 0xE0 and above. Eight bytes without one are skipped at once (a byte has bits
    // 7, 6 and 5 set exactly when it is 0xE0 or above).
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & (w << 1) & (w << 2) & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0xE0) {
      ++i;
      continue;
    }
    const size_t len = c < 0xF0 ? 3 : 4;
    if (i + len > n) break;
    uint32_t cp = len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
    if (isCjkCodePoint(cp)) return true;
    i += len;
  }
  return false;
}

std::string formUrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '*') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool needsChineseTransform(const ChatTurns& turns) {
  if (containsCjk(turns.chatInput)) return true;
  for (const auto& turn : turns.previous)
    if (containsCjk(turn.content)) return true;
  return false;
}

void applyChineseTransform(ChatTurns& turns) {
  turns.chatInput = formUrlEncode(turns.chatInput);
  bool instructed = false;
  for (auto& turn : turns.previous) {
    std::string encoded = formUrlEncode(turn.content);
    if (!instructed && turn.role == "system") {
      turn.content = std::string(kChineseInstruction) + "\n\n" + encoded;
      instructed = true;
    } else {
      turn.content = std::move(encoded);
    }
  }
  if (!instructed) {
    turns.previous.insert(turns.previous.begin(), Turn{"system", std::string(kChineseInstruction)});
  }
  turns.previous.push_back({"user", std::string(kChineseConfirmQuestion)});
  turns.previous.push_back({"assistant", std::string(kChineseConfirmAnswer)});
}

}  // namespace qodo
