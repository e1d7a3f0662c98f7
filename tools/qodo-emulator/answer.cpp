// Planning of a Qodo chat answer: text events in the backend's line format, plus the scripted
// irregularities (status events, garbage, blank lines, an oversize line, [DONE]).
#include "answer.h"

#include <boost/json.hpp>

namespace emu {
namespace json = boost::json;
namespace {

std::string textEvent(const ChatBehaviour& b, const std::string& model, const std::string& piece) {
  json::object o;
  o["type"] = "text";
  o["sub_type"] = b.subType;
  o["used_model"] = model;
  o["data"] = json::object{{"content", piece}};
  return json::serialize(o);
}

std::string statusEvent(int i) {
  json::object o;
  o["type"] = "status";
  o["sub_type"] = "progress";
  o["data"] = json::object{{"status", "running"}, {"message", "step " + std::to_string(i)}};
  return json::serialize(o);
}

// The reasoning block cut so that both tags straddle an event boundary, which is what a
// reasoning splitter must survive.
std::vector<std::string> thinkPieces(const std::string& think) {
  std::string half1 = think.substr(0, think.size() / 2);
  std::string half2 = think.substr(think.size() / 2);
  return {"<thi", "nk>" + half1, half2 + "</th", "ink>\n\n"};
}

std::vector<std::string> wordsOf(const std::string& s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    auto start = s.find_first_not_of(" \t\r\n", i);
    if (start == std::string::npos) break;
    auto end = s.find_first_of(" \t\r\n", start);
    if (end == std::string::npos) end = s.size();
    words.push_back(s.substr(start, end - start));
    i = end;
  }
  for (std::size_t k = 0; k + 1 < words.size(); ++k) words[k] += ' ';
  return words;
}

// The call as a model writes it in either markup, cut into 7-byte pieces so that every tag
// straddles events, as the gateway's sieve must survive.
std::vector<std::string> markupPieces(const ChatToolCall& call) {
  std::string markup;
  if (call.form == "tool_call") {
    markup = "<tool_call>\n{\"name\": " + json::serialize(json::value(call.name)) +
             ", \"arguments\": " + call.arguments + "}\n</tool_call>";
  } else {
    markup = "<function_calls>\n<invoke name=\"" + call.name + "\">\n";
    const json::value args = json::parse(call.arguments);
    for (const auto& kv : args.as_object()) {
      markup += "<parameter name=\"" + std::string(kv.key()) + "\">";
      markup += kv.value().is_string() ? std::string(kv.value().get_string())
                                       : json::serialize(kv.value());
      markup += "</parameter>\n";
    }
    markup += "</invoke>\n</function_calls>";
  }
  std::vector<std::string> pieces;
  for (std::size_t i = 0; i < markup.size(); i += 7) pieces.push_back(markup.substr(i, 7));
  return pieces;
}

}  // namespace

std::vector<std::string> textPieces(const ChatBehaviour& b, const ChatRequestInfo& req) {
  if (!b.toolCall.name.empty()) {
    if (!b.toolCall.unlessContains.empty() &&
        req.conversation.find(b.toolCall.unlessContains) != std::string::npos)
      return wordsOf(b.toolCall.answerAfter);
    std::vector<std::string> pieces = wordsOf(b.toolCall.before);
    if (!pieces.empty()) pieces.back() += ' ';
    for (auto& p : markupPieces(b.toolCall)) pieces.push_back(std::move(p));
    return pieces;
  }
  if (!b.pieces.empty()) return b.pieces;
  if (b.echo) return wordsOf(req.chatInput);
  std::vector<std::string> words;
  for (int i = 0; i < b.events; ++i) words.push_back(b.word + std::to_string(i));
  for (std::size_t i = 0; i + 1 < words.size(); ++i) words[i] += ' ';
  return words;
}

AnswerPlan planAnswer(const ChatBehaviour& b, const ChatRequestInfo& req) {
  AnswerPlan plan;
  const std::string model = b.model.empty() ? req.customModel : b.model;
  const std::string prefix = b.dataPrefix ? "data: " : "";
  const std::string after = b.blankLines ? "\n\n" : "\n";
  auto line = [&](const std::string& s) { return prefix + s + after; };

  std::vector<std::string> events;  // serialized event lines, text and status, in order
  std::vector<bool> isText;
  if (b.onlyNonText) {
    int n = std::max(b.events, 1);
    for (int i = 0; i < n; ++i) {
      events.push_back(statusEvent(i));
      isText.push_back(false);
    }
  } else {
    std::vector<std::string> pieces;
    if (!b.think.empty()) pieces = thinkPieces(b.think);
    for (auto& p : textPieces(b, req)) pieces.push_back(std::move(p));
    int statusLeft = b.statusEvents;
    if (statusLeft > 0) {
      events.push_back(statusEvent(0));
      isText.push_back(false);
      --statusLeft;
    }
    // The remaining status events are spread evenly between the text events.
    std::size_t gap =
        statusLeft > 0 ? std::max<std::size_t>(1, pieces.size() / (statusLeft + 1)) : 0;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      events.push_back(textEvent(b, model, pieces[i]));
      isText.push_back(true);
      plan.content += pieces[i];
      if (statusLeft > 0 && (i + 1) % gap == 0 && i + 1 < pieces.size()) {
        events.push_back(statusEvent(b.statusEvents - statusLeft));
        isText.push_back(false);
        --statusLeft;
      }
    }
    for (; statusLeft > 0; --statusLeft) {
      events.push_back(statusEvent(b.statusEvents - statusLeft));
      isText.push_back(false);
    }
  }

  std::size_t garbageGap =
      b.garbageLines > 0 ? std::max<std::size_t>(1, events.size() / b.garbageLines) : 0;
  int garbageLeft = b.garbageLines;
  for (std::size_t i = 0; i < events.size(); ++i) {
    Frame f;
    f.event = true;
    f.text = line(events[i]);
    if (garbageLeft > 0 && i % garbageGap == 0) {
      f.text +=
          line("<html>garbage line " + std::to_string(b.garbageLines - garbageLeft) + " {not json");
      --garbageLeft;
    }
    plan.frames.push_back(std::move(f));
    if (i == 0 && b.oversizeLine > 0) plan.frames.push_back(Frame{prefix, b.oversizeLine, false});
  }
  for (; garbageLeft > 0; --garbageLeft)
    plan.frames.push_back(
        Frame{line("garbage tail " + std::to_string(b.garbageLines - garbageLeft)), 0, false});
  if (events.empty() && b.oversizeLine > 0)
    plan.frames.push_back(Frame{prefix, b.oversizeLine, false});
  if (b.done) plan.frames.push_back(Frame{line("[DONE]"), 0, false});
  return plan;
}

}  // namespace emu
