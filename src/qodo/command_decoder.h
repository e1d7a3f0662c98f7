// The command backend's answer (SPEC.md §9, QODO-PROTOCOL.md §6–§8): the server's WebSocket
// frames after the UserQuery, one JSON object each, decoded into conversation events.
// - `UserResponse` content deltas → text (a new `identifier` starts a new paragraph: a blank
//   line between), `<think>` split off as reasoning (§7); retry_status and progress are not text.
// - A call for one of the client's tools (server kClientToolServer, declared, arguments an
//   object, no tool_result) → tool call begin / arguments / end. A call the server ran itself
//   (tool_result present) or one of its own servers' → not shown. A call for a tool the client
//   did not declare, or with arguments that are not an object → not shown, and answered at
//   once with an error result (an `IDERetrievalAnswer` frame the session sends, one per Ready).
// - `EndNode`, or a `Ready` after a client tool call or after any answer frame → the end. A
//   `Ready` with nothing before it → a failure (the request was not processed).
// - Error frames → a failure classified by its text; one that mentions "resume" is ignored, as
//   the CLI does. A frame that is not a JSON object → a failure. Frames without the envelope
//   (`session_id`, `data`, `data.tool`) are dropped.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conversation/event.h"
#include "qodo/answer_decoder.h"
#include "qodo/reasoning_splitter.h"

namespace qodo {

class CommandDecoder final : public AnswerDecoder {
 public:
  // `clientTools`: the names of the tools the client declared.
  CommandDecoder(std::vector<std::string> clientTools, bool hideReasoning);

  // `frame`: one server text frame.
  bool feed(std::string_view frame, conversation::EventSink& sink) override;
  // The socket closed: the end after a client tool call, else a failure unless the answer ended.
  void finish(conversation::EventSink& sink) override;
  void reset() override;

  bool ended() const { return ended_; }
  // A frame the session must send now (released by a Ready), or "" when there is none.
  std::string takeOutgoing();

  // The client tool calls of this answer, in index order: the tool and the backend's id of the
  // call (what an IDERetrievalAnswer names).
  struct ClientCall {
    std::string tool;
    std::string backendId;
  };
  const std::vector<ClientCall>& clientCalls() const { return calls_; }
  // A continued session (tool results answered on the session that asked): frames to send one
  // per Ready, as the CLI does, before the answer goes on.
  void queueAnswers(std::vector<std::string> frames);

 private:
  bool handle(std::string_view frame, conversation::EventSink& sink);
  void text(std::string_view identifier, std::string_view content, conversation::EventSink& sink);
  void end(conversation::EventSink& sink);
  bool fail(conversation::Failure failure, std::string_view message, conversation::EventSink& sink);
  void emit(const ReasoningPieces& pieces, conversation::EventSink& sink);

  std::vector<std::string> clientTools_;
  bool hideReasoning_;
  ReasoningSplitter reasoning_;
  std::string identifier_;  // of the last UserResponse
  bool sawText_ = false;
  size_t frames_ = 0;                // answer frames since the query
  size_t clientCalls_ = 0;           // tool calls shown to the client
  std::vector<ClientCall> calls_;
  std::deque<std::string> pending_;  // error results waiting for a Ready
  std::string outgoing_;
  std::string scratch_;  // the fast path's unescaped content
  bool ended_ = false;
  bool failed_ = false;
};

// The fast path of the common frame, a text delta:
// {"session_id":"…","data":{"tool":"UserResponse","identifier":"…","tool_args":{"content":"…"}}}
// in any key order, other keys skipped. Declines (nullopt: use the DOM path) anything else: an
// error frame (top-level "error", "type" or "message"), a sub-type ("type" in data or
// tool_args), a content that is not a string, duplicate keys, JSON outside JsonScan's subset.
// When it answers, it answers what the DOM path would. `content` may point into `scratch`.
struct UserResponseText {
  std::string_view identifier;
  std::string_view content;
};
std::optional<UserResponseText> scanUserResponse(std::string_view frame, std::string& scratch);

// Whether `frame` is the server's `Ready` (the session takes a query now).
bool isReadyFrame(std::string_view frame);

// The failure a command error text stands for (SPEC §9: rate-limit and usage-limit texts as in
// §4's table; an authentication refusal; anything else is a backend error).
conversation::Failure classifyCommandError(std::string_view message);

// `IDERetrievalAnswer` with an error result for tool call `toolId` of tool `tool`.
std::string toolErrorFrame(std::string_view tool, std::string_view toolId,
                           std::string_view message);

// `IDERetrievalAnswer` with the client's result (`content`, an error when `isError`) for tool
// call `toolId` of tool `tool` (QODO-PROTOCOL.md §5.2: an MCP CallToolResult of one text).
std::string toolResultFrame(std::string_view tool, std::string_view toolId,
                            std::string_view content, bool isError);

}  // namespace qodo
