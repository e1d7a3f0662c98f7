// The Chinese work-around (qodo::formUrlEncode, containsCjk, applyChineseTransform) on any
// conversation: the encoding uses only its documented characters and decodes back to the
// exact bytes; the transform keeps every turn's role and order, encodes every text, leaves no
// CJK text behind and adds exactly the instruction and the two confirmation turns.
#include "qodo/chinese_transform.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // the encoder writes uppercase hex only
}

// application/x-www-form-urlencoded decoding; the encoded text must use only what
// formUrlEncode promises to write.
std::string formUrlDecode(std::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~' || c == '*';
    if (plain) {
      out += c;
    } else if (c == '+') {
      out += ' ';
    } else {
      FUZZ_CHECK(c == '%');
      FUZZ_CHECK(i + 2 < encoded.size());
      const int hi = hexValue(encoded[i + 1]);
      const int lo = hexValue(encoded[i + 2]);
      FUZZ_CHECK(hi >= 0 && lo >= 0);
      const char decoded = static_cast<char>(hi << 4 | lo);
      // Only bytes outside the plain set are percent-encoded.
      const auto d = static_cast<unsigned char>(decoded);
      FUZZ_CHECK(!((d >= 'A' && d <= 'Z') || (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9') ||
                   d == '-' || d == '_' || d == '.' || d == '~' || d == '*' || d == ' '));
      out += decoded;
      i += 2;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  static constexpr std::string_view kRoles[] = {"system", "user", "assistant"};
  qodo::ChatTurns conversation;
  conversation.chatInput = std::string(in.string());
  const size_t turns = in.byte() % 8;
  for (size_t i = 0; i < turns; ++i) {
    const std::string_view role = kRoles[in.byte() % 3];
    conversation.previous.push_back({std::string(role), std::string(in.string())});
  }

  const std::string encoded = qodo::formUrlEncode(conversation.chatInput);
  FUZZ_CHECK(formUrlDecode(encoded) == conversation.chatInput);
  FUZZ_CHECK(!qodo::containsCjk(encoded));
  for (const qodo::Turn& turn : conversation.previous) {
    FUZZ_CHECK(formUrlDecode(qodo::formUrlEncode(turn.content)) == turn.content);
  }

  const qodo::ChatTurns before = conversation;
  qodo::applyChineseTransform(conversation);

  FUZZ_CHECK(!qodo::needsChineseTransform(conversation));
  FUZZ_CHECK(formUrlDecode(conversation.chatInput) == before.chatInput);
  size_t firstSystem = before.previous.size();
  for (size_t i = 0; i < before.previous.size(); ++i) {
    if (before.previous[i].role == "system") {
      firstSystem = i;
      break;
    }
  }
  const bool inserted = firstSystem == before.previous.size();
  const auto& after = conversation.previous;
  FUZZ_CHECK(after.size() == before.previous.size() + 2 + (inserted ? 1 : 0));
  size_t at = 0;
  if (inserted) {
    FUZZ_CHECK(after[0].role == "system" && after[0].content == qodo::kChineseInstruction);
    at = 1;
  }
  for (size_t i = 0; i < before.previous.size(); ++i, ++at) {
    FUZZ_CHECK(after[at].role == before.previous[i].role);
    std::string_view text = after[at].content;
    if (i == firstSystem) {
      const std::string head = std::string(qodo::kChineseInstruction) + "\n\n";
      FUZZ_CHECK(text.substr(0, head.size()) == head);
      text.remove_prefix(head.size());
    }
    FUZZ_CHECK(formUrlDecode(text) == before.previous[i].content);
  }
  FUZZ_CHECK(after[at].role == "user" && after[at].content == qodo::kChineseConfirmQuestion);
  FUZZ_CHECK(after[at + 1].role == "assistant" &&
             after[at + 1].content == qodo::kChineseConfirmAnswer);
  return 0;
}
