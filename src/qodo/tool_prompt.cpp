#include "qodo/tool_prompt.h"

#include <boost/json.hpp>

namespace qodo {
namespace {

namespace json = boost::json;
using Mode = conversation::ToolChoice::Mode;

constexpr std::string_view kIntro =
    "# Tools\n\n"
    "You can call the tools listed below. To call tools, write this markup, and write nothing "
    "after it: the results come back in the next message.\n\n"
    "<function_calls>\n"
    "<invoke name=\"TOOL_NAME\">\n"
    "<parameter name=\"PARAMETER_NAME\">VALUE</parameter>\n"
    "</invoke>\n"
    "</function_calls>\n\n"
    "- Write a string value as it is, without quotes or escapes; write a number, boolean, "
    "array or object as JSON.\n"
    "- Use only the tools listed here, with the parameters their schemas name.\n"
    "- Write the markup as it is, never inside a ``` code block.\n";

}  // namespace

std::string toolInstructions(const conversation::Conversation& conversation) {
  const auto& choice = conversation.toolChoice;
  if (conversation.tools.empty() || choice.mode == Mode::kNone) return "";
  std::string out(kIntro);
  if (conversation.parallelToolCalls)
    out += "- Calls that do not depend on each other go in one <function_calls> block, one "
           "<invoke> each.\n";
  else
    out += "- Call at most one tool in an answer.\n";
  switch (choice.mode) {
    case Mode::kRequired:
      out += "- Answer with at least one tool call now.\n";
      break;
    case Mode::kNamed:
      out += "- Call the tool `" + choice.name + "` now.\n";
      break;
    default:
      out += "- When no tool is needed, answer in plain text without the markup.\n";
      break;
  }
  out += "\nThe tools:\n";
  for (const auto& tool : conversation.tools) {
    if (choice.mode == Mode::kNamed && tool.name != choice.name) continue;
    out += "\n## ";
    out += tool.name;
    out += '\n';
    if (!tool.description.empty()) {
      out += tool.description;
      out += '\n';
    }
    out += "Parameters (JSON schema): ";
    out += tool.parameters.empty() ? std::string_view(R"({"type":"object"})")
                                   : std::string_view(tool.parameters);
    out += '\n';
  }
  return out;
}

void appendCallsMarkup(std::string& out,
                       const std::vector<const conversation::ToolCall*>& calls) {
  out += "<function_calls>\n";
  for (const conversation::ToolCall* call : calls) {
    boost::system::error_code ec;
    const json::value arguments =
        json::parse(call->arguments.empty() ? "{}" : call->arguments, ec);
    out += "<invoke name=\"";
    out += call->name;
    out += "\">\n";
    if (const json::object* o = ec ? nullptr : arguments.if_object()) {
      for (const auto& [key, value] : *o) {
        out += "<parameter name=\"";
        out += std::string_view(key);
        out += "\">";
        if (value.is_string())
          out += std::string_view(value.get_string());
        else
          out += json::serialize(value);
        out += "</parameter>\n";
      }
    } else if (!call->arguments.empty()) {
      // Arguments that are not an object (the client's own mistake) are shown as they were.
      out += "<parameter name=\"arguments\">";
      out += call->arguments;
      out += "</parameter>\n";
    }
    out += "</invoke>\n";
  }
  out += "</function_calls>";
}

void appendResultText(std::string& out, const conversation::ToolResult& result,
                      std::string_view toolName) {
  out += "Result of the tool ";
  out += toolName.empty() ? std::string_view("call") : toolName;
  if (!result.callId.empty()) {
    out += " (call ";
    out += result.callId;
    out += ')';
  }
  if (result.isError) out += ", an error";
  out += ":\n";
  out += result.content;
}

}  // namespace qodo
