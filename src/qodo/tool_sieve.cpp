#include "qodo/tool_sieve.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

namespace qodo {
namespace {

namespace json = boost::json;
using conversation::Event;
using conversation::EventKind;

constexpr std::string_view kFunctionCallsOpen = "<function_calls>";
constexpr std::string_view kFunctionCallsClose = "</function_calls>";
constexpr std::string_view kToolCallOpen = "<tool_call>";
constexpr std::string_view kToolCallClose = "</tool_call>";
constexpr int kMaxDepth = 64;

bool isPrefixOf(std::string_view prefix, std::string_view whole) {
  return prefix.size() <= whole.size() && whole.substr(0, prefix.size()) == prefix;
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The schema type of a parameter, as the sieve needs it: "string" when a string is what it
// takes (alone or with null), another JSON type's name, or "" when the schema does not say.
std::string typeOf(const json::value& schema) {
  const json::object* o = schema.if_object();
  const json::value* type = o ? o->if_contains("type") : nullptr;
  if (!type) return "";
  if (type->is_string()) return std::string(type->get_string());
  if (const json::array* types = type->if_array()) {
    std::string first;
    bool string = false;
    for (const auto& t : *types) {
      if (!t.is_string() || t.get_string() == "null") continue;
      if (t.get_string() == "string") string = true;
      if (first.empty()) first = t.get_string();
    }
    // Several types with string among them: a value that is not JSON is still a string.
    return string && first != "string" ? "" : first;
  }
  return "";
}

// Reads `<tag name="value">` at body[i] (single or double quotes, spaces allowed around `=`
// and before `>`), moving i past it.
bool readOpenTag(std::string_view body, size_t& i, std::string_view tag, std::string& name) {
  size_t at = i;
  if (body.substr(at, 1) != "<" || body.substr(at + 1, tag.size()) != tag) return false;
  at += 1 + tag.size();
  if (at >= body.size() || !isSpace(body[at])) return false;
  while (at < body.size() && isSpace(body[at])) ++at;
  if (body.substr(at, 4) != "name") return false;
  at += 4;
  while (at < body.size() && isSpace(body[at])) ++at;
  if (body.substr(at, 1) != "=") return false;
  ++at;
  while (at < body.size() && isSpace(body[at])) ++at;
  if (at >= body.size() || (body[at] != '"' && body[at] != '\'')) return false;
  const char quote = body[at++];
  const size_t end = body.find(quote, at);
  if (end == std::string_view::npos) return false;
  name = body.substr(at, end - at);
  at = end + 1;
  while (at < body.size() && isSpace(body[at])) ++at;
  if (body.substr(at, 1) != ">") return false;
  i = at + 1;
  return true;
}

// A JSON text, parsed whole, or nothing.
std::optional<json::value> parseJson(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return v;
}

}  // namespace

ToolSieve::ToolSieve(const std::vector<conversation::Tool>& tools, bool parallel,
                     conversation::EventSink* next)
    : parallel_(parallel), next_(next) {
  for (const auto& tool : tools) {
    ToolInfo info;
    if (auto schema = parseJson(tool.parameters)) {
      const json::object* o = schema->if_object();
      const json::value* props = o ? o->if_contains("properties") : nullptr;
      if (const json::object* p = props ? props->if_object() : nullptr)
        for (const auto& [key, value] : *p) info.types.emplace(std::string(key), typeOf(value));
    }
    tools_.emplace(tool.name, std::move(info));
  }
}

void ToolSieve::reset() {
  for (Channel* c : {&text_, &reasoning_}) {
    const auto kind = c->kind;
    *c = Channel{kind};
  }
  nextIndex_ = 0;
  made_.clear();
}

void ToolSieve::onEvent(const Event& event) {
  switch (event.kind) {
    case EventKind::kText:
      sieve(text_, event.text);
      return;
    case EventKind::kReasoning:
      sieve(reasoning_, event.text);
      return;
    case EventKind::kEnd:
      flushHeld(reasoning_);
      flushHeld(text_);
      next_->onEvent(event);
      return;
    default:
      next_->onEvent(event);
      return;
  }
}

void ToolSieve::sieve(Channel& ch, std::string_view piece) {
  std::string rest;  // what followed a closed markup, sieved again
  while (!piece.empty()) {
    switch (ch.mode) {
      case Mode::kPlain: {
        size_t i = 0;
        for (; i < piece.size(); ++i) {
          const char c = piece[i];
          if (c == '`') {
            if (++ch.backticks == 3) ch.inFence = !ch.inFence;
            continue;
          }
          ch.backticks = 0;
          if (c == '<' && !ch.inFence) break;
        }
        release(ch, piece.substr(0, i));
        if (i == piece.size()) return;
        ch.mode = Mode::kPrefix;
        ch.held.assign(1, '<');
        piece.remove_prefix(i + 1);
        break;
      }
      case Mode::kPrefix: {
        while (!piece.empty()) {
          ch.held += piece.front();
          if (!isPrefixOf(ch.held, kFunctionCallsOpen) && !isPrefixOf(ch.held, kToolCallOpen)) {
            // Not markup: what was held is text, and this character gets a plain look (it may
            // be the next '<').
            ch.held.pop_back();
            release(ch, ch.held);
            ch.held.clear();
            ch.mode = Mode::kPlain;
            break;
          }
          piece.remove_prefix(1);
          if (ch.held == kFunctionCallsOpen || ch.held == kToolCallOpen) {
            ch.form = ch.held == kToolCallOpen ? Form::kToolCall : Form::kFunctionCalls;
            ch.mode = Mode::kMarkup;
            ch.searchFrom = ch.held.size();
            break;
          }
        }
        break;
      }
      case Mode::kMarkup: {
        ch.held.append(piece);
        piece = {};
        closeMarkup(ch);
        if (ch.mode == Mode::kPlain && !ch.held.empty()) {
          // closeMarkup left what followed the closing tag in `held`.
          rest = std::move(ch.held);
          ch.held.clear();
          piece = rest;
        }
        break;
      }
    }
  }
}

// Looks for the closing tag in what was collected; on finding one that closes the markup,
// makes the calls (or lets the markup go as text), returns to plain and leaves in `held` what
// followed the tag.
void ToolSieve::closeMarkup(Channel& ch) {
  const bool toolCall = ch.form == Form::kToolCall;
  const std::string_view open = toolCall ? kToolCallOpen : kFunctionCallsOpen;
  const std::string_view close = toolCall ? kToolCallClose : kFunctionCallsClose;
  size_t from = std::max(open.size(), ch.searchFrom >= close.size() - 1
                                          ? ch.searchFrom - (close.size() - 1)
                                          : size_t{0});
  for (size_t pos; (pos = ch.held.find(close, from)) != std::string::npos; from = pos + 1) {
    std::vector<Call> calls;
    const std::string_view body = std::string_view(ch.held).substr(open.size(), pos - open.size());
    const Parse parse =
        toolCall ? parseToolCall(body, calls) : parseFunctionCalls(body, calls);
    // A closing tag inside a value (a string still open) does not close the markup.
    if (parse == Parse::kIncomplete) continue;
    const size_t end = pos + close.size();
    std::string after = ch.held.substr(end);
    ch.mode = Mode::kPlain;
    if (parse == Parse::kCalls) {
      emitCalls(calls);
    } else {
      ch.held.resize(end);
      release(ch, ch.held);
    }
    ch.held = std::move(after);
    return;
  }
  ch.searchFrom = ch.held.size();
  if (ch.held.size() > kMaxMarkupBytes) {
    ch.mode = Mode::kPlain;
    release(ch, ch.held);
    ch.held.clear();
  }
}

void ToolSieve::release(Channel& ch, std::string_view text) {
  if (text.empty()) return;
  // After a call, the answer's text is over (SPEC §10); reasoning still shows.
  if (ch.kind == EventKind::kText && nextIndex_ > 0) return;
  next_->onEvent(Event::of(ch.kind, text));
}

void ToolSieve::flushHeld(Channel& ch) {
  if (ch.mode == Mode::kPlain) return;
  ch.mode = Mode::kPlain;
  release(ch, ch.held);
  ch.held.clear();
}

void ToolSieve::emitCalls(std::vector<Call>& calls) {
  for (auto& call : calls) {
    if (!parallel_ && nextIndex_ > 0) return;
    const bool repeated = std::any_of(made_.begin(), made_.end(), [&](const Call& c) {
      return c.name == call.name && c.arguments == call.arguments;
    });
    if (repeated) continue;
    const size_t index = nextIndex_++;
    Event e = Event::of(EventKind::kToolCallBegin, call.name);
    e.index = index;
    next_->onEvent(e);
    e = Event::of(EventKind::kToolCallArguments, call.arguments);
    e.index = index;
    next_->onEvent(e);
    e = Event::of(EventKind::kToolCallEnd);
    e.index = index;
    next_->onEvent(e);
    made_.push_back(std::move(call));
  }
}

ToolSieve::Parse ToolSieve::parseFunctionCalls(std::string_view body,
                                               std::vector<Call>& calls) const {
  struct Invoke {
    std::string name;
    std::vector<std::pair<std::string, std::string>> parameters;
  };
  std::vector<Invoke> invokes;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < body.size() && isSpace(body[i])) ++i;
  };
  while (true) {
    skipSpace();
    if (i == body.size()) break;
    Invoke invoke;
    if (!readOpenTag(body, i, "invoke", invoke.name)) return Parse::kRejected;
    while (true) {
      skipSpace();
      if (body.substr(i, 9) == "</invoke>") {
        i += 9;
        break;
      }
      std::string name;
      if (!readOpenTag(body, i, "parameter", name))
        return i >= body.size() ? Parse::kIncomplete : Parse::kRejected;
      const size_t end = body.find("</parameter>", i);
      if (end == std::string_view::npos) return Parse::kIncomplete;
      invoke.parameters.emplace_back(std::move(name), std::string(body.substr(i, end - i)));
      i = end + 12;
    }
    invokes.push_back(std::move(invoke));
  }
  if (invokes.empty()) return Parse::kRejected;
  for (const auto& invoke : invokes) {
    Call call;
    call.name = invoke.name;
    if (!typedArguments(invoke.name, invoke.parameters, call.arguments)) return Parse::kRejected;
    calls.push_back(std::move(call));
  }
  return Parse::kCalls;
}

bool ToolSieve::typedArguments(std::string_view tool,
                               const std::vector<std::pair<std::string, std::string>>& parameters,
                               std::string& out) const {
  const auto known = tools_.find(std::string(tool));
  if (known == tools_.end()) return false;
  json::object arguments;
  for (const auto& [name, value] : parameters) {
    const auto type = known->second.types.find(name);
    std::string_view kind;  // (a ternary with "" would view a temporary copy)
    if (type != known->second.types.end()) kind = type->second;
    if (kind != "string") {
      // Numbers, booleans, arrays, objects (or a type the schema does not give) are JSON; a
      // value that is not JSON stays the text it is.
      if (auto parsed = parseJson(trim(value))) {
        arguments[name] = std::move(*parsed);
        continue;
      }
    }
    arguments[name] = json::string(value);
  }
  out = json::serialize(arguments);
  return true;
}

ToolSieve::Parse ToolSieve::parseToolCall(std::string_view body, std::vector<Call>& calls) const {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const std::string_view text = trim(body);
  parser.write(text.data(), text.size(), ec);
  if (ec) return Parse::kRejected;
  parser.finish(ec);
  // JSON that stops short (a string still open): the closing tag was inside it.
  if (ec) return ec == json::error::incomplete ? Parse::kIncomplete : Parse::kRejected;
  const json::value value = parser.release();
  const json::object* o = value.if_object();
  const json::value* name = o ? o->if_contains("name") : nullptr;
  if (!name || !name->is_string()) return Parse::kRejected;
  Call call;
  call.name = name->get_string();
  if (!tools_.contains(call.name)) return Parse::kRejected;
  const json::value* arguments = o->if_contains("arguments");
  if (!arguments) arguments = o->if_contains("parameters");
  if (!arguments || arguments->is_null()) {
    call.arguments = "{}";
  } else if (arguments->is_object()) {
    call.arguments = json::serialize(*arguments);
  } else if (arguments->is_string()) {
    // Arguments written as a JSON string of an object.
    auto inner = parseJson(arguments->get_string());
    if (!inner || !inner->is_object()) return Parse::kRejected;
    call.arguments = json::serialize(*inner);
  } else {
    return Parse::kRejected;
  }
  calls.push_back(std::move(call));
  return Parse::kCalls;
}

}  // namespace qodo
