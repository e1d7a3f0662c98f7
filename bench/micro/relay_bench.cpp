// The gateway's per-token and per-request pure work, without sockets: one backend event line
// through qodo::LineSplitter, qodo::EventParser and api::ChunkEncoder (what every streamed token
// costs), and qodo::buildChatBody for a 100-message conversation (what every request costs).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "api/chat_request.h"
#include "api/chat_response.h"
#include "qodo/chat_body.h"
#include "qodo/event_parser.h"
#include "qodo/line_splitter.h"
#include "qodo/reasoning_splitter.h"

namespace {

// The emulator's (and the backend's) event line for token i.
std::string eventLine(int i) {
  return R"({"type":"text","sub_type":"code_implementation","used_model":"gpt-4o","data":{"content":"tok)" +
         std::to_string(i) + R"( "}})" + "\n";
}

// One token per read, as the backend flushes them: split, parse, separate reasoning, encode.
void tokenPath(benchmark::State& state) {
  std::vector<std::string> lines;
  for (int i = 0; i < 256; ++i) lines.push_back(eventLine(i));
  qodo::LineSplitter splitter;
  qodo::EventParser parser;
  qodo::ReasoningSplitter reasoning;
  api::ChunkEncoder encoder("chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012", 1735689600, "gpt-4o");
  std::string out;
  size_t i = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines[i++ & 255];
    splitter.feed(line);
    for (auto next = splitter.next(); next.status == qodo::LineSplitter::Status::kLine;
         next = splitter.next()) {
      const qodo::Event event = parser.parse(next.line);
      if (event.kind != qodo::EventKind::kText) continue;
      const qodo::ReasoningPieces pieces = reasoning.feed(event.text);
      out.clear();
      if (!pieces.content.empty()) encoder.appendContent(out, pieces.content);
      bytes += out.size();
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["out_bytes_per_token"] =
      static_cast<double>(bytes) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

// The same path split in its parts, to see which one costs what.
void lineSplitter(benchmark::State& state) {
  const std::string line = eventLine(42);
  qodo::LineSplitter splitter;
  for (auto _ : state) {
    splitter.feed(line);
    auto next = splitter.next();
    benchmark::DoNotOptimize(next.line.data());
    next = splitter.next();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void eventParser(benchmark::State& state) {
  std::string line = eventLine(42);
  line.pop_back();
  qodo::EventParser parser;
  for (auto _ : state) benchmark::DoNotOptimize(parser.parse(line).text.data());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void chunkEncoder(benchmark::State& state) {
  api::ChunkEncoder encoder("chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012", 1735689600, "gpt-4o");
  std::string out;
  for (auto _ : state) {
    out.clear();
    encoder.appendContent(out, "tok42 ");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

conversation::Conversation conversationOf(size_t messages) {
  using conversation::Message;
  using conversation::Role;
  conversation::Conversation request;
  request.model = "gpt-4o";
  request.messages.push_back(
      Message::ofText(Role::kSystem, "You are a careful senior engineer. Answer briefly."));
  for (size_t i = 1; i < messages; ++i) {
    const bool user = i % 2 == 1;
    std::string text = user ? "Why does the build of module " : "Because the build of module ";
    text += std::to_string(i);
    text += " take \"so long\" when the cache is warm?\nIt links 40 libraries\tin order. ";
    while (text.size() < 400) text += "More context about the build graph and the linker. ";
    request.messages.push_back(
        Message::ofText(user ? Role::kUser : Role::kAssistant, std::move(text)));
  }
  return request;
}

void buildChatBody100(benchmark::State& state) {
  const conversation::Conversation request = conversationOf(100);
  const qodo::ClientIds ids{"6f1c2a9e-3b7d-4c2e-9a51-0d8e7f6b5a43",
                            "0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c7d"};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = qodo::buildChatBody(request, "gpt-4o", ids, true);
    bytes += body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(tokenPath);
BENCHMARK(lineSplitter);
BENCHMARK(eventParser);
BENCHMARK(chunkEncoder);
BENCHMARK(buildChatBody100)->Unit(benchmark::kMicrosecond);

}  // namespace
