// Scenario JSON → Scenario. Field names are documented in README.md; an unknown field is an
// error so a typo in a test's scenario fails loudly instead of silently testing nothing.
#include "scenario.h"

#include <stdexcept>

namespace emu {
namespace json = boost::json;
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument(where + ": " + what);
}

const json::object& asObject(const json::value& v, const std::string& where) {
  if (!v.is_object()) fail(where, "expected an object");
  return v.get_object();
}

std::int64_t asInt(const json::value& v, const std::string& where) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double() &&
      v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double())))
    return static_cast<std::int64_t>(v.get_double());
  fail(where, "expected an integer");
}

std::int64_t asCount(const json::value& v, const std::string& where) {
  auto n = asInt(v, where);
  if (n < 0) fail(where, "must not be negative");
  return n;
}

bool asBool(const json::value& v, const std::string& where) {
  if (!v.is_bool()) fail(where, "expected true or false");
  return v.get_bool();
}

std::string asString(const json::value& v, const std::string& where) {
  if (!v.is_string()) fail(where, "expected a string");
  return std::string(v.get_string());
}

struct Canned {
  int status;
  const char* body;
};

// The backend's failure answers, by the name a scenario uses for them.
bool cannedChatFailure(const std::string& name, Canned& out) {
  static const std::map<std::string, Canned> kCanned = {
      {"rate_limit", {429, R"({"error":"Too many concurrent requests"})"}},
      {"concurrent_200", {200, R"({"error":"Too many concurrent requests"})"}},
      {"usage_limit",
       {429, R"({"error":"Usage limit exceeded","message":"You have reached your usage limit"})"}},
      {"invalid_token", {401, R"({"error":"Invalid token"})"}},
      {"forbidden", {403, R"({"error":"Forbidden"})"}},
      {"server_error", {500, R"({"error":"Internal Server Error"})"}},
      {"bad_gateway", {502, "<html><body><h1>502 Bad Gateway</h1></body></html>"}},
      {"unavailable", {503, R"({"error":"Service Unavailable"})"}},
      {"chinese",
       {200,
        R"({"error":"Detected that you are using Chinese. Chinese is not supported, please use English."})"}},
  };
  auto it = kCanned.find(name);
  if (it == kCanned.end()) return false;
  out = it->second;
  return true;
}

void applyChatFail(const json::value& v, ChatBehaviour& b, const std::string& where) {
  std::string mode;
  const json::object* obj = nullptr;
  if (v.is_string()) {
    mode = asString(v, where);
  } else {
    obj = &asObject(v, where);
    auto it = obj->find("mode");
    mode = it == obj->end() ? "status" : asString(it->value(), where + ".mode");
  }
  b.failName = mode;
  b.afterEvents = 0;
  Canned canned{};
  if (mode == "none") {
    b.fail = ChatFail::kNone;
  } else if (cannedChatFailure(mode, canned)) {
    b.fail = ChatFail::kStatus;
    b.status = canned.status;
    b.body = canned.body;
  } else if (mode == "status") {
    b.fail = ChatFail::kStatus;
    b.status = 500;
    b.body = R"({"error":"Internal Server Error"})";
  } else if (mode == "invalid_token_first") {
    b.fail = ChatFail::kInvalidTokenFirst;
    b.status = 401;
    b.body = R"({"error":"Invalid token"})";
  } else if (mode == "disconnect") {
    b.fail = ChatFail::kDisconnect;
  } else if (mode == "hang_before_headers") {
    b.fail = ChatFail::kHangBeforeHeaders;
  } else if (mode == "hang_after_headers") {
    b.fail = ChatFail::kHangAfterHeaders;
  } else if (mode == "hang_after_events") {
    b.fail = ChatFail::kHangAfterEvents;
  } else {
    fail(where, "unknown chat failure '" + mode + "'");
  }
  if (!obj) return;
  for (const auto& kv : *obj) {
    std::string key(kv.key());
    std::string at = where + "." + key;
    if (key == "mode") continue;
    if (key == "status") {
      b.status = static_cast<int>(asInt(kv.value(), at));
      if (b.status < 100 || b.status > 599) fail(at, "not an HTTP status");
    } else if (key == "body") {
      b.body = asString(kv.value(), at);
    } else if (key == "after_events") {
      b.afterEvents = static_cast<int>(asCount(kv.value(), at));
    } else {
      fail(at, "unknown field");
    }
  }
}

void applyChat(const json::object& o, ChatBehaviour& b, const std::string& where,
               bool allowSequence) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string at = where + "." + key;
    const auto& v = kv.value();
    if (key == "events") {
      b.events = static_cast<int>(asCount(v, at));
    } else if (key == "interval_ms") {
      b.intervalMs = static_cast<int>(asCount(v, at));
    } else if (key == "text") {
      b.word = asString(v, at);
    } else if (key == "pieces") {
      if (!v.is_array()) fail(at, "expected an array of strings");
      b.pieces.clear();
      for (const auto& p : v.get_array()) b.pieces.push_back(asString(p, at));
    } else if (key == "echo") {
      b.echo = asBool(v, at);
    } else if (key == "model") {
      b.model = asString(v, at);
    } else if (key == "sub_type") {
      b.subType = asString(v, at);
    } else if (key == "data_prefix") {
      b.dataPrefix = asBool(v, at);
    } else if (key == "blank_lines") {
      b.blankLines = asBool(v, at);
    } else if (key == "status_events") {
      b.statusEvents = static_cast<int>(asCount(v, at));
    } else if (key == "only_non_text") {
      b.onlyNonText = asBool(v, at);
    } else if (key == "done") {
      b.done = asBool(v, at);
    } else if (key == "think") {
      b.think = asString(v, at);
    } else if (key == "tool_call") {
      b.toolCall = ChatToolCall{};
      for (const auto& c : asObject(v, at)) {
        const std::string ckey(c.key());
        const std::string cat = at + "." + ckey;
        if (ckey == "name") {
          b.toolCall.name = asString(c.value(), cat);
        } else if (ckey == "arguments") {
          if (!c.value().is_object()) fail(cat, "must be an object");
          b.toolCall.arguments = json::serialize(c.value());
        } else if (ckey == "form") {
          b.toolCall.form = asString(c.value(), cat);
          if (b.toolCall.form != "function_calls" && b.toolCall.form != "tool_call")
            fail(cat, "must be function_calls or tool_call");
        } else if (ckey == "before") {
          b.toolCall.before = asString(c.value(), cat);
        } else if (ckey == "unless_contains") {
          b.toolCall.unlessContains = asString(c.value(), cat);
        } else if (ckey == "answer_after") {
          b.toolCall.answerAfter = asString(c.value(), cat);
        } else {
          fail(cat, "unknown field (name, arguments, form, before, unless_contains, answer_after)");
        }
      }
    } else if (key == "garbage_lines") {
      b.garbageLines = static_cast<int>(asCount(v, at));
    } else if (key == "oversize_line") {
      b.oversizeLine = static_cast<std::uint64_t>(asCount(v, at));
    } else if (key == "gzip") {
      b.gzip = asBool(v, at);
    } else if (key == "gzip_bomb") {
      b.gzipBomb = static_cast<std::uint64_t>(asCount(v, at));
    } else if (key == "fail") {
      applyChatFail(v, b, at);
    } else if (key == "sequence" && allowSequence) {
      continue;  // read by the caller once the base is complete
    } else {
      fail(at, "unknown field");
    }
  }
}

void applyToken(const json::object& o, TokenBehaviour& b, const std::string& where,
                bool allowSequence) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string at = where + "." + key;
    const auto& v = kv.value();
    if (key == "expires_in") {
      b.expiresIn = static_cast<int>(asCount(v, at));
    } else if (key == "rotate") {
      b.rotate = asBool(v, at);
    } else if (key == "old_valid") {
      b.oldValid = asBool(v, at);
    } else if (key == "fail") {
      std::string mode;
      int status = 500;
      if (v.is_string()) {
        mode = asString(v, at);
      } else {
        const auto& f = asObject(v, at);
        for (const auto& fkv : f) {
          std::string fkey(fkv.key());
          if (fkey == "mode") {
            mode = asString(fkv.value(), at + ".mode");
          } else if (fkey == "status") {
            status = static_cast<int>(asInt(fkv.value(), at + ".status"));
          } else {
            fail(at + "." + fkey, "unknown field");
          }
        }
        if (mode.empty()) mode = "status";
      }
      b.failName = mode;
      if (mode == "none") {
        b.fail = TokenFail::kNone;
      } else if (mode == "hang") {
        b.fail = TokenFail::kHang;
      } else if (mode == "server_error" || mode == "status") {
        b.fail = TokenFail::kStatus;
        b.status = mode == "server_error" ? 500 : status;
      } else if (mode.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == std::string::npos) {
        b.fail = TokenFail::kFirebaseError;
        b.errorMessage = mode;
      } else {
        fail(at, "unknown token failure '" + mode + "'");
      }
    } else if (key == "sequence" && allowSequence) {
      continue;
    } else {
      fail(at, "unknown field");
    }
  }
}

std::vector<std::string> asStrings(const json::value& v, const std::string& where) {
  if (!v.is_array()) fail(where, "expected an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v.get_array()) out.push_back(asString(item, where));
  return out;
}

void applyInfo(const json::object& o, InfoBehaviour& b, const std::string& where,
               bool allowSequence) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string at = where + "." + key;
    const auto& v = kv.value();
    if (key == "models") {
      b.models = asStrings(v, at);
    } else if (key == "default_model") {
      b.defaultModel = asString(v, at);
    } else if (key == "base_url") {
      b.baseUrl = asString(v, at);
    } else if (key == "quota") {
      for (const auto& q : asObject(v, at)) {
        std::string qkey(q.key());
        if (qkey == "limit") {
          b.quotaLimit = static_cast<int>(asCount(q.value(), at + ".limit"));
        } else if (qkey == "remaining") {
          b.quotaRemaining = static_cast<int>(asInt(q.value(), at + ".remaining"));
        } else if (qkey == "reset_in") {
          b.quotaResetIn = static_cast<int>(asInt(q.value(), at + ".reset_in"));
        } else {
          fail(at + "." + qkey, "unknown field (limit, remaining, reset_in)");
        }
      }
    } else if (key == "delay_ms") {
      b.delayMs = static_cast<int>(asCount(v, at));
    } else if (key == "fail") {
      const std::string mode = v.is_string() ? asString(v, at) : "status";
      b.failName = mode;
      if (mode == "none") {
        b.fail = InfoFail::kNone;
      } else if (mode == "unauthorized") {
        b.fail = InfoFail::kUnauthorized;
      } else if (mode == "garbage") {
        b.fail = InfoFail::kGarbage;
      } else if (mode == "server_error" || mode == "status") {
        b.fail = InfoFail::kStatus;
        b.status = 500;
        if (v.is_object()) {
          for (const auto& f : v.get_object()) {
            if (f.key() != "status") fail(at + "." + std::string(f.key()), "unknown field");
            b.status = static_cast<int>(asInt(f.value(), at + ".status"));
          }
        }
      } else {
        fail(at, "unknown get-things failure '" + mode + "'");
      }
    } else if (key == "sequence" && allowSequence) {
      continue;
    } else {
      fail(at, "unknown field");
    }
  }
}

void applySession(const json::object& o, SessionBehaviour& b, const std::string& where,
                  bool allowSequence) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string at = where + "." + key;
    const auto& v = kv.value();
    if (key == "events") {
      b.events = static_cast<int>(asCount(v, at));
    } else if (key == "interval_ms") {
      b.intervalMs = static_cast<int>(asCount(v, at));
    } else if (key == "text") {
      b.word = asString(v, at);
    } else if (key == "think") {
      b.think = asString(v, at);
    } else if (key == "tool_call") {
      const auto& call = asObject(v, at);
      b.toolCall.clear();
      b.toolArguments = "{}";
      b.toolUnless.clear();
      for (const auto& c : call) {
        std::string ckey(c.key());
        if (ckey == "name") {
          b.toolCall = asString(c.value(), at + ".name");
        } else if (ckey == "arguments") {
          b.toolArguments = json::serialize(c.value());
        } else if (ckey == "answer_after") {
          b.answerAfterTool = asString(c.value(), at + ".answer_after");
        } else if (ckey == "server_run") {
          if (!c.value().is_bool()) fail(at + ".server_run", "must be a boolean");
          b.toolServerRun = c.value().get_bool();
        } else if (ckey == "unless_contains") {
          b.toolUnless = asString(c.value(), at + ".unless_contains");
        } else {
          fail(at + "." + ckey,
               "unknown field (name, arguments, answer_after, server_run, unless_contains)");
        }
      }
    } else if (key == "fail") {
      std::string mode;
      const json::object* obj = nullptr;
      if (v.is_string()) {
        mode = asString(v, at);
      } else {
        obj = &asObject(v, at);
        auto it = obj->find("mode");
        if (it == obj->end()) fail(at, "needs a mode");
        mode = asString(it->value(), at + ".mode");
      }
      b.failName = mode;
      b.afterEvents = 0;
      static const std::map<std::string, SessionFail> kModes = {
          {"none", SessionFail::kNone},
          {"unauthorized", SessionFail::kUnauthorized},
          {"close_1008", SessionFail::kClose1008},
          {"no_ready", SessionFail::kNoReady},
          {"error_frame", SessionFail::kErrorFrame},
          {"stall", SessionFail::kStall},
          {"close", SessionFail::kClose}};
      auto found = kModes.find(mode);
      if (found == kModes.end()) fail(at, "unknown session failure '" + mode + "'");
      b.fail = found->second;
      if (!obj) continue;
      for (const auto& f : *obj) {
        std::string fkey(f.key());
        if (fkey == "mode") continue;
        if (fkey == "after_events") {
          b.afterEvents = static_cast<int>(asCount(f.value(), at + ".after_events"));
        } else if (fkey == "message") {
          b.message = asString(f.value(), at + ".message");
        } else {
          fail(at + "." + fkey, "unknown field (mode, after_events, message)");
        }
      }
    } else if (key == "sequence" && allowSequence) {
      continue;
    } else {
      fail(at, "unknown field");
    }
  }
}

template <typename B, typename Apply>
Scripted<B> parseScripted(const json::value* v, const B& inherited, const std::string& where,
                          Apply apply) {
  Scripted<B> s;
  s.base = inherited;
  if (!v) return s;
  const auto& o = asObject(*v, where);
  apply(o, s.base, where, true);
  if (auto it = o.find("sequence"); it != o.end()) {
    if (!it->value().is_array()) fail(where + ".sequence", "expected an array");
    int i = 0;
    for (const auto& stepJson : it->value().get_array()) {
      std::string at = where + ".sequence[" + std::to_string(i++) + "]";
      Step<B> step;
      step.behaviour = s.base;
      json::object fields = asObject(stepJson, at);
      if (auto t = fields.find("times"); t != fields.end()) {
        step.times = static_cast<int>(asCount(t->value(), at + ".times"));
        fields.erase(t);
      }
      apply(fields, step.behaviour, at, false);
      s.sequence.push_back(std::move(step));
    }
  }
  return s;
}

AccountScript parseAccount(const json::value* v, const AccountScript& inherited,
                           const std::string& where) {
  AccountScript a;
  const json::value* token = nullptr;
  const json::value* chat = nullptr;
  const json::value* info = nullptr;
  const json::value* session = nullptr;
  if (v) {
    for (const auto& kv : asObject(*v, where)) {
      if (kv.key() == "token") {
        token = &kv.value();
      } else if (kv.key() == "chat") {
        chat = &kv.value();
      } else if (kv.key() == "get_things") {
        info = &kv.value();
      } else if (kv.key() == "session") {
        session = &kv.value();
      } else {
        fail(where + "." + std::string(kv.key()),
             "unknown field (token, chat, get_things, session)");
      }
    }
  }
  a.token = parseScripted(token, inherited.token.base, where + ".token", applyToken);
  a.chat = parseScripted(chat, inherited.chat.base, where + ".chat", applyChat);
  a.info = parseScripted(info, inherited.info.base, where + ".get_things", applyInfo);
  a.session = parseScripted(session, inherited.session.base, where + ".session", applySession);
  return a;
}

}  // namespace

Scenario parseScenario(const json::value& v, const ChatBehaviour& base) {
  Scenario s;
  s.source = v;
  const auto& o = asObject(v, "scenario");
  const json::value* defaults = nullptr;
  const json::value* accounts = nullptr;
  for (const auto& kv : o) {
    std::string key(kv.key());
    if (key == "strict") {
      s.strict = asBool(kv.value(), key);
    } else if (key == "api_key") {
      s.apiKey = asString(kv.value(), key);
    } else if (key == "record_limit") {
      s.recordLimit = static_cast<std::size_t>(asCount(kv.value(), key));
    } else if (key == "default") {
      defaults = &kv.value();
    } else if (key == "accounts") {
      accounts = &kv.value();
    } else if (key == "description" || key == "comment") {
      continue;
    } else {
      fail(key, "unknown field");
    }
  }
  AccountScript builtin;
  builtin.chat.base = base;
  builtin.session.base.events = base.events;
  builtin.session.base.intervalMs = base.intervalMs;
  builtin.session.base.word = base.word;
  s.defaults = parseAccount(defaults, builtin, "default");
  if (accounts) {
    for (const auto& kv : asObject(*accounts, "accounts")) {
      std::string rt(kv.key());
      s.accounts[rt] = parseAccount(&kv.value(), s.defaults, "accounts." + rt);
    }
  }
  return s;
}

}  // namespace emu
