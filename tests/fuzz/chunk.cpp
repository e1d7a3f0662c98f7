// api::ChunkEncoder, completionJson and appendErrorJson on any bytes (id, model, answer text,
// error text): every SSE event is `data: <JSON>\n\n` with a valid JSON object in valid UTF-8,
// and the text survives exactly when it was valid UTF-8 to begin with.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/chat_response.h"
#include "fuzz_check.h"

namespace {

// Splits `out` into its SSE events and checks each; returns the parsed JSON objects' count.
size_t checkEvents(std::string_view out, std::vector<boost::json::value>& events) {
  size_t count = 0;
  while (!out.empty()) {
    FUZZ_CHECK(out.substr(0, 6) == "data: ");
    const size_t end = out.find("\n\n");
    FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view payload = out.substr(6, end - 6);
    out.remove_prefix(end + 2);
    ++count;
    if (payload == "[DONE]") continue;
    auto json = fuzz::parseJson(payload);
    FUZZ_CHECK(json && json->is_object());
    events.push_back(std::move(*json));
  }
  return count;
}

std::string_view deltaText(const boost::json::value& event, std::string_view field) {
  const auto& choices = event.at("choices").as_array();
  FUZZ_CHECK(choices.size() == 1);
  return choices[0].at("delta").at(field).as_string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const std::string_view id = in.string(64);
  const std::string_view model = in.string(64);
  const long created = static_cast<long>(in.byte()) << 24 | in.byte();
  const std::string_view content = in.string();
  const std::string_view reasoning = in.string();
  const bool withReasoning = in.byte() & 1;
  const std::string_view message = in.string();
  const std::string_view param = in.string(32);
  const std::string_view rest = in.rest();

  const api::ChunkEncoder encoder(id, created, model);
  std::string out;
  encoder.appendRole(out);
  encoder.appendReasoning(out, reasoning);
  encoder.appendContent(out, content);
  encoder.appendContent(out, rest);
  encoder.appendStop(out);
  encoder.appendUsage(out, {static_cast<long>(content.size()), static_cast<long>(rest.size())});
  api::ApiError error = api::badGateway(std::string(message));
  error.param = std::string(param);
  api::ChunkEncoder::appendError(out, error);
  api::ChunkEncoder::appendDone(out);

  std::vector<boost::json::value> events;
  FUZZ_CHECK(checkEvents(out, events) == 8);
  FUZZ_CHECK(events.size() == 7);
  for (size_t i = 0; i < 6; ++i) {
    FUZZ_CHECK(events[i].at("object").as_string() == "chat.completion.chunk");
    FUZZ_CHECK(events[i].at("created").to_number<long>() == created);
    if (fuzz::validUtf8(id)) FUZZ_CHECK(events[i].at("id").as_string() == id);
    if (fuzz::validUtf8(model)) FUZZ_CHECK(events[i].at("model").as_string() == model);
  }
  if (fuzz::validUtf8(reasoning)) {
    FUZZ_CHECK(deltaText(events[1], "reasoning_content") == reasoning);
  }
  if (fuzz::validUtf8(content)) FUZZ_CHECK(deltaText(events[2], "content") == content);
  if (fuzz::validUtf8(rest)) FUZZ_CHECK(deltaText(events[3], "content") == rest);
  const auto& err = events[6].at("error");
  if (fuzz::validUtf8(message)) FUZZ_CHECK(err.at("message").as_string() == message);
  if (fuzz::validUtf8(param)) FUZZ_CHECK(err.at("param").as_string() == param);

  const auto errorJson = fuzz::parseJson(error.json());
  FUZZ_CHECK(errorJson && errorJson->is_object());

  const std::optional<std::string_view> reasoningField =
      withReasoning ? std::optional<std::string_view>(reasoning) : std::nullopt;
  const auto completion =
      fuzz::parseJson(api::completionJson(id, created, model, rest, reasoningField, {1, 2}));
  FUZZ_CHECK(completion && completion->is_object());
  const auto& msg = completion->at("choices").as_array().at(0).at("message");
  if (fuzz::validUtf8(rest)) FUZZ_CHECK(msg.at("content").as_string() == rest);
  if (withReasoning && fuzz::validUtf8(reasoning)) {
    FUZZ_CHECK(msg.at("reasoning_content").as_string() == reasoning);
  }
  FUZZ_CHECK(withReasoning == msg.as_object().contains("reasoning_content"));
  return 0;
}
